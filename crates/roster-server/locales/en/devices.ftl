# My devices, adding a phone or computer, account settings, who sees my card.

## My devices
devices-title = My devices
devices-intro = Every phone, computer and browser that can open your account. Revoke one and it stops working at once.
devices-add = Add a phone or computer
devices-empty = No devices yet.
devices-kind-session = Signed in (command line or app)
devices-kind-app-password = Address book (app password)
devices-kind-web = Web browser
devices-this-browser = This browser
devices-seen = Last seen
devices-seen-never = Not yet
devices-connected = Connected now
devices-not-connected = Not connected
devices-client = Client: { $client }
devices-revoke = Revoke
devices-revoke-label = Revoke { $name }
devices-revoked = The device was revoked: its password no longer works.
devices-books = Address books on this device
devices-books-account = As in my account settings
devices-books-on = One address book per group, besides all contacts
devices-books-off = All contacts in one address book
devices-books-save = Save
devices-books-saved = The choice of address books was saved.

## Adding a device
devices-setup-title = Add a phone or computer
devices-setup-intro = Each way below creates a new password just for that device, so that you can revoke it alone later.
devices-setup-recommended = Recommended for this device
devices-setup-name = Device name
devices-setup-name-hint = So that you recognise it in My devices.
devices-setup-name-apple = My iPhone
devices-setup-name-android = My Android phone
devices-setup-name-desktop = My computer
devices-setup-name-cli = My terminal
devices-setup-apple-title = iPhone, iPad or Mac
devices-setup-apple-text = Download a profile and install it: your groups appear in the Contacts app. On an iPhone, open Settings after the download and tap “Profile downloaded”.
devices-setup-apple-submit = Download the profile
devices-setup-apple-warning = The profile is not signed, so the device shows it as “unverified”. That is expected.
devices-setup-android-title = Android (DAVx⁵ app)
devices-setup-android-text = The free DAVx⁵ app keeps your groups in the phone’s contacts. The next page gives you a button and a QR code that set it up.
devices-setup-android-submit = Set up with DAVx⁵
devices-setup-desktop-title = Thunderbird and other programs
devices-setup-desktop-text = Any program that speaks CardDAV: the next page shows the server address, your user name and a new password to copy.
devices-setup-desktop-submit = Show the address and password
devices-setup-cli-title = The roster command line
devices-setup-cli-text = On a computer with the roster program, sign in with this command; it asks for your account password.
devices-setup-cli-submit = Show the command with this name

## A new device's credentials
devices-new-title = { $name } is ready to connect
devices-new-once = This password is shown only once. Copy it into the device now; if you lose it, revoke the device and add it again.
devices-carddav-url = Server address
devices-carddav-user = User name
devices-app-password = Password
devices-copy = Copy
devices-copied = Copied
devices-android-step-1 = Install DAVx⁵ from Google Play or F-Droid.
devices-android-step-2 = On this phone, tap “Open in DAVx⁵”. From another screen, scan the QR code with the phone instead.
devices-android-step-3 = In DAVx⁵, tap “Log in”, then tick the address books to sync. If the app asks, enter the server address, user name and password shown here.
devices-davx5-open = Open in DAVx⁵
devices-davx5-qr = QR code that opens DAVx⁵ with this account
devices-desktop-step = In Thunderbird: Address Book → New Address Book → Add CardDAV Address Book. Paste the user name and the server address, then the password when asked.
devices-cli-title = Sign in from the command line
devices-cli-text = Run this on the computer. It asks for your account password and appears in My devices after signing in.
devices-back = Back to My devices
devices-profile-description = Adds the address books of your Roster groups to Contacts.

## Account settings
devices-account-title = Account settings
devices-account-login = Your login name is { $login }.
devices-account-name-title = Your name
devices-account-name = Display name
devices-account-name-hint = Members of your groups see it in member lists. Your card has its own name.
devices-account-name-save = Save the name
devices-account-name-saved = Your name was saved.
devices-account-password-title = Change the password
devices-account-password-current = Current password
devices-account-password-new = New password
devices-account-password-new-hint = At least 8 characters.
devices-account-password-keep = Keep the app passwords of my phones and computers working
devices-account-password-save = Change the password
devices-account-password-changed = The password was changed. Other signed-in devices were signed out.
devices-account-wrong-password = The password is wrong.
devices-account-delete-title = Delete the account
devices-account-delete-text = This removes you from every group, deletes your card and signs out all your devices. Groups you own with no other members are deleted too. It cannot be undone.
devices-account-delete-password = Your password, to confirm
devices-account-delete-submit = Delete my account for good
devices-account-delete-owner = You own a group that has other members: hand it over to one of them, or delete it, first.

## Who can see my card
devices-audience-title = Who can see my card
devices-audience-intro = For each group you belong to: the parts of your card it receives and the members who receive them.
devices-audience-empty = You are not an active member of any group yet.
devices-audience-fields = Shared with this group
devices-audience-nothing = Nothing: this group receives nothing of your card.
devices-audience-receivers = Seen by { $count ->
    [one] one member
   *[other] { $count } members
}
devices-audience-alone = No other members yet.
devices-audience-change = Change what this group sees
