# 群组管理页面：创建群组、群组设置、邀请和成员。

## 群组管理页面之间的导航
admin-nav-label = 管理群组
admin-nav-directory = 通讯录
admin-nav-settings = 设置
admin-nav-invites = 邀请
admin-nav-members = 成员

## 群组表单（新建群组和设置）
admin-new-title = 新建群组
admin-new-intro = 你将成为该群组的所有者。这里的所有内容以后都可以修改。
admin-settings-title = { $group } 的设置
admin-group-name = 名称
admin-group-description = 简介
admin-group-description-hint = 选填。会显示在邀请页面上。
admin-group-join-policy = 加入方式
admin-policy-open = 凭邀请直接加入（由管理员邀请）
admin-policy-approval = 凭邀请申请，经管理员批准后加入
admin-policy-open-with-link = 凭邀请直接加入（任何成员都可邀请）
admin-group-member-limit = 成员上限
admin-group-member-limit-hint = 留空则使用服务器的上限 { $max } 人。
admin-group-create = 创建群组
admin-group-save = 保存
admin-saved = 修改已保存。
admin-form-invalid = 部分内容需要修改，已在下方标出。
admin-error-name = 请输入 1 到 100 个字符的名称。
admin-error-description = 最多 2000 个字符。
admin-error-join-policy = 请选择加入方式。
admin-error-member-limit = 请输入 1 到 { $max } 之间的整数，或留空。

## 删除群组
admin-delete-heading = 删除群组
admin-delete-warning = 删除后，该群组及其通讯录和邀请将对所有成员消失，且无法恢复。
admin-delete-confirm = 我已了解：为所有人删除该群组
admin-delete-submit = 删除群组
admin-delete-owner-only = 只有群组所有者可以删除群组。
admin-error-delete-confirm = 请勾选此框，确认要删除该群组。

## 邀请
admin-invites-title = { $group } 的邀请
admin-invite-new = 新建邀请
admin-invite-expires-days = 有效期（天）
admin-invite-expires-hint = 1 到 { $max } 天。
admin-invite-max-uses = 最多使用次数
admin-invite-max-uses-hint = 留空则不限次数。
admin-invite-create = 创建邀请
admin-invite-created = 这是新的邀请链接。请现在复制链接或出示二维码：链接只显示这一次。
admin-invite-link = 邀请链接
admin-invite-qr-alt = 邀请链接的二维码
admin-invite-copy = 复制
admin-invite-list = 有效的邀请
admin-invites-empty = 目前没有有效的邀请。
admin-invite-created-at = 创建于 { $date }
admin-invite-expires = 有效期至 { $date }
admin-invite-expired = 已过期
admin-invite-used-up = 已用完
admin-invite-uses = 已使用 { $uses } 次
admin-invite-uses-limited = 已使用 { $uses } 次，共 { $max } 次
admin-invite-link-hidden = 链接只在创建邀请时显示。如果链接丢失，请撤销此邀请并新建一个。
admin-invite-revoke = 撤销
admin-error-expires-days = 请输入 1 到 { $max } 之间的整数天数。
admin-error-max-uses = 请输入不小于 1 的整数，或留空。

## 成员和加入申请
admin-members-title = { $group } 的成员
admin-pending-heading = 加入申请
admin-pending-empty = 目前没有待批准的申请。
admin-approve = 批准
admin-deny = 拒绝
admin-members-heading = 成员（{ $count }）
admin-requested = 申请于 { $date }
admin-member-since = 加入于 { $date }
admin-role-owner = 所有者
admin-role-admin = 管理员
admin-role-member = 成员
admin-role-label = { $name } 的角色
admin-role-save = 更改角色
admin-remove = 移除…
admin-transfer = 设为所有者…
admin-you = （你）

## 确认页面
admin-cancel = 取消
admin-confirm-remove-title = 将 { $name } 移出群组？
admin-confirm-remove-text = { $name } 将离开 { $group } 的通讯录，并且无法再查看它。再次加入需要新的邀请。
admin-confirm-remove-submit = 移出群组
admin-confirm-transfer-title = 将 { $group } 的所有权转让给 { $name }？
admin-confirm-transfer-text = { $name } 将成为所有者。你仍是管理员，但将不能再更改角色、转让或删除该群组。
admin-confirm-transfer-submit = 转让所有权
