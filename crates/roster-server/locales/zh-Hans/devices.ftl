# 我的设备、添加手机或电脑、账户设置、谁能看到我的名片。

## 我的设备
devices-title = 我的设备
devices-intro = 所有能打开你账户的手机、电脑和浏览器。撤销其中一个，它会立即失效。
devices-add = 添加手机或电脑
devices-empty = 还没有设备。
devices-kind-session = 已登录（命令行或应用）
devices-kind-app-password = 通讯录（应用专用密码）
devices-kind-web = 网页浏览器
devices-this-browser = 当前浏览器
devices-seen = 最近使用
devices-seen-never = 尚未使用
devices-connected = 当前在线
devices-not-connected = 未连接
devices-client = 客户端：{ $client }
devices-revoke = 撤销
devices-revoke-label = 撤销 { $name }
devices-revoked = 设备已撤销：它的密码已失效。
devices-books = 此设备上的通讯录
devices-books-account = 与账户设置相同
devices-books-on = 除全部联系人外，每个群组一个通讯录
devices-books-off = 所有联系人放在一个通讯录里
devices-books-save = 保存
devices-books-saved = 通讯录选择已保存。

## 添加设备
devices-setup-title = 添加手机或电脑
devices-setup-intro = 下面每种方式都会为该设备单独生成一个新密码，以后可以单独撤销它。
devices-setup-recommended = 推荐用于此设备
devices-setup-name = 设备名称
devices-setup-name-hint = 方便你在“我的设备”中认出它。
devices-setup-name-apple = 我的 iPhone
devices-setup-name-android = 我的安卓手机
devices-setup-name-desktop = 我的电脑
devices-setup-name-cli = 我的终端
devices-setup-apple-title = iPhone、iPad 或 Mac
devices-setup-apple-text = 下载并安装描述文件后，你的群组会出现在“通讯录”应用中。在 iPhone 上，下载后打开“设置”，轻点“已下载描述文件”。
devices-setup-apple-submit = 下载描述文件
devices-setup-apple-warning = 描述文件未签名，设备会将其显示为“未验证”，这属正常现象。
devices-setup-android-title = 安卓（DAVx⁵ 应用）
devices-setup-android-text = 免费的 DAVx⁵ 应用会把你的群组同步到手机通讯录。下一页提供一个按钮和一个二维码，用来完成设置。
devices-setup-android-submit = 用 DAVx⁵ 设置
devices-setup-desktop-title = Thunderbird 及其他程序
devices-setup-desktop-text = 适用于任何支持 CardDAV 的程序：下一页会显示服务器地址、你的用户名和一个可复制的新密码。
devices-setup-desktop-submit = 显示地址和密码
devices-setup-cli-title = roster 命令行
devices-setup-cli-text = 在装有 roster 程序的电脑上，用下面的命令登录；它会询问你的账户密码。
devices-setup-cli-submit = 显示带此名称的命令

## 新设备的凭据
devices-new-title = { $name } 已可以连接
devices-new-once = 此密码只显示这一次。请立即把它填入设备；如果丢失，请撤销该设备后重新添加。
devices-carddav-url = 服务器地址
devices-carddav-user = 用户名
devices-app-password = 密码
devices-copy = 复制
devices-copied = 已复制
devices-android-step-1 = 从 Google Play 或 F-Droid 安装 DAVx⁵。
devices-android-step-2 = 在这部手机上，轻点“在 DAVx⁵ 中打开”。如果本页显示在别的屏幕上，请用手机扫描二维码。
devices-android-step-3 = 在 DAVx⁵ 中轻点“登录”，然后勾选要同步的通讯录。如果应用要求填写，请输入这里显示的服务器地址、用户名和密码。
devices-davx5-open = 在 DAVx⁵ 中打开
devices-davx5-qr = 用此账户打开 DAVx⁵ 的二维码
devices-desktop-step = 在 Thunderbird 中：通讯录 → 新建通讯录 → 添加 CardDAV 通讯录。粘贴用户名和服务器地址，并在提示时输入密码。
devices-cli-title = 从命令行登录
devices-cli-text = 在电脑上运行此命令。它会询问你的账户密码，登录后会出现在“我的设备”中。
devices-back = 返回我的设备
devices-profile-description = 把你在 Roster 中各群组的通讯录添加到“通讯录”应用。

## 账户设置
devices-account-title = 账户设置
devices-account-login = 你的登录名是 { $login }。
devices-account-name-title = 你的名字
devices-account-name = 显示名称
devices-account-name-hint = 群组成员会在成员列表中看到它。你的名片有单独的姓名。
devices-account-name-save = 保存名字
devices-account-name-saved = 名字已保存。
devices-account-password-title = 修改密码
devices-account-password-current = 当前密码
devices-account-password-new = 新密码
devices-account-password-new-hint = 至少 8 个字符。
devices-account-password-keep = 保留我的手机和电脑上的应用专用密码
devices-account-password-save = 修改密码
devices-account-password-changed = 密码已修改。其他已登录的设备已被登出。
devices-account-wrong-password = 密码错误。
devices-account-delete-title = 删除账户
devices-account-delete-text = 这会让你退出所有群组、删除你的名片并登出你的所有设备。你拥有且没有其他成员的群组也会被删除。此操作无法撤销。
devices-account-delete-password = 请输入密码以确认
devices-account-delete-submit = 永久删除我的账户
devices-account-delete-owner = 你拥有一个还有其他成员的群组：请先把它转交给其中一位成员，或将其删除。

## 谁能看到我的名片
devices-audience-title = 谁能看到我的名片
devices-audience-intro = 你所在的每个群组：它能收到你名片的哪些部分，以及哪些成员能收到。
devices-audience-empty = 你还不是任何群组的正式成员。
devices-audience-fields = 与此群组共享
devices-audience-nothing = 无：此群组收不到你名片的任何内容。
devices-audience-receivers = { $count } 位成员可以看到
devices-audience-alone = 还没有其他成员。
devices-audience-change = 更改此群组能看到的内容
