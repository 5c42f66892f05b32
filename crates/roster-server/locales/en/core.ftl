# Pages every reader sees: the frame, signing in and up, invites, the card, sharing, groups.
brand-name = Roster
skip-to-content = Skip to content
nav-label = Main
nav-groups = Groups
nav-card = My card
nav-audience = Who sees my card
nav-devices = My devices
nav-account = Account
sign-out = Sign out
language = Language
back-home = Back to the start page
save = Save
back-to-group = Back to the group

error-csrf-title = This form has expired
error-csrf = The page was open too long or came from somewhere else. Reload the page and try again; nothing was changed.
error-bad-request-title = Something was wrong with that request
error-bad-request = The form could not be read. Reload the page and try again.
error-not-found-title = Not found
error-not-found = There is nothing here, or it is not yours to see.
error-refused-title = That did not work
error-refused = The server refused this:
error-invalid-title = Some fields need another look
error-invalid = Please check these fields:
error-busy-title = Please wait a moment
error-rate-limited = Too many attempts. Wait a little and try again.
error-unavailable = The server is busy. Try again in a moment.
error-internal-title = Something went wrong
error-internal = The server could not do this. Try again later.

login-title = Sign in
login-submit = Sign in
login-failed = The login or the password is wrong.
login-no-account = No account yet?
field-login = Login name
field-login-hint = 3 to 64 characters: letters a–z, digits, dots, dashes and underscores.
field-password = Password
field-password-hint = At least 8 characters.
field-display-name = Your name
signup-title = Create an account
signup-submit = Create my account
signup-closed = This server does not take new accounts. Ask the person who runs it.
signup-have-account = Already have an account?

invite-eyebrow = You are invited to join
invite-members = { $count ->
    [one] One member
   *[other] { $count } members
}
invite-approval = An admin of the group approves each new member.
invite-already-member = You are already a member of this group.
invite-open-group = Open the group
invite-signed-in-as = Signed in as { $name }.
invite-continue = Continue
invite-new-here = New here? Create your account
invite-have-account = Already have an account?
invite-unusable-title = This invite cannot be used
invite-unusable = This invite has expired, has been used up, or was withdrawn.
invite-unusable-group = The invite to { $group } has expired or has been used up.
invite-unknown = This invite link is not valid: it was withdrawn, or the link is incomplete.
invite-ask-new = Ask the person who sent it for a new link.

join-step-card = Step 1 of 2: your card
join-step-share = Step 2 of 2: what the group sees
join-request = Ask to join
join-now = Join the group

share-title = What { $group } sees
share-explain = Members of this group see only the fields you tick here. You can change this at any time.
share-legend = Fields this group sees
share-empty-field = empty on your card
share-preview-button = Show the preview
share-preview-title = How the other members see your card
share-no-card = You have no card yet.
share-nothing = The group sees nothing of your card.
share-saved = Saved. The group sees your card this way now.

card-field-name = Name
card-field-phones = Phone numbers
card-field-emails = E-mail addresses
card-field-organization = Organisation and job title
card-field-address = Address
card-field-birthday = Birthday
card-field-note = Note
card-field-photo = Photo

waiting-title = Waiting for { $group }
waiting-explain = Your request to join has been sent. An admin of the group will look at it; you will see the other members once you are in.
waiting-live = This page moves on by itself when you are approved.
waiting-check = Check again
waiting-withdraw = Withdraw my request

groups-title = My groups
groups-empty = You are in no group yet. Open an invite link you received, or create a group.
groups-pending = waiting for approval
groups-create = Create a group

group-nav-label = Group
group-share-link = What this group sees of my card
group-members-link = Members and requests
group-invites-link = Invites
group-settings-link = Settings
directory-search-label = Search by name or phone number
directory-search = Search
directory-empty = No other member shares a card with you yet.
directory-no-match = Nobody matches this search.
directory-no-name = Name not shared
directory-next = More members
group-leave = Leave this group
group-leave-confirm = Yes, leave this group

card-title = My card
card-saved = Your card is saved. Your groups see the change within moments.
card-has-errors = The card was not saved: please correct the marked fields.
card-phones-hint = At least one number. Numbers without a country code are read in the country you pick.
card-phone-region = Country
card-phone-number = Phone { $n }
card-phone-kind = Type
phone-kind-mobile = Mobile
phone-kind-work = Work
phone-kind-home = Home
phone-kind-other = Other
card-more-rows = Save to get a row for another entry.
card-email = E-mail { $n }
email-kind-home = Home
email-kind-work = Work
email-kind-other = Other
card-organization = Organisation
card-job-title = Job title
card-street = Street and number
card-postal-code = Postal code
card-locality = City or town
card-region = State or province
card-country = Country
card-birthday-hint = As 1990-04-23, or --04-23 without the year.
card-photo-current = Your current photo
card-photo-remove = Remove the photo
card-photo-upload = New photo
card-photo-hint = JPEG or PNG. Large photos are made smaller; the location and camera data in them are removed.
card-save-continue = Save and continue

# Field errors in languages other than English (English shows the server's own explanation).
field-error-phone = This is not a valid phone number.
field-error-phones = Enter at least one phone number.
field-error-email = This is not a valid e-mail address, or it is listed twice.
field-error-birthday = This is not a date: write it as 1990-04-23, or --04-23 without the year.
field-error-photo = This photo cannot be used: JPEG or PNG only, and not too large.
field-error-name = Enter a name (no control characters, not too long).
field-error-login = This login name cannot be used: 3 to 64 characters from a–z, 0–9, dot, dash and underscore, or it is taken.
field-error-password = The password needs at least 8 characters.
field-error-invite = This server creates accounts only from an invite link.
field-error-text = This value is too long or contains characters that are not allowed.
