# Group admin pages: create a group, its settings, invites and members.

## Navigation between a group's admin pages
admin-nav-label = Manage the group
admin-nav-directory = Directory
admin-nav-settings = Settings
admin-nav-invites = Invites
admin-nav-members = Members

## The group form (new group and settings)
admin-new-title = New group
admin-new-intro = You become the group's owner. You can change everything here later.
admin-settings-title = Settings of { $group }
admin-group-name = Name
admin-group-description = Description
admin-group-description-hint = Optional. Shown on the invite page.
admin-group-join-policy = How people join
admin-policy-open = With an invite, at once (admins invite)
admin-policy-approval = With an invite, after an admin approves
admin-policy-open-with-link = With an invite, at once (any member may invite)
admin-group-member-limit = Member limit
admin-group-member-limit-hint = Leave empty for the server's limit of { $max }.
admin-group-create = Create group
admin-group-save = Save
admin-saved = Your changes are saved.
admin-form-invalid = Some fields need attention; they are marked below.
admin-error-name = Enter a name of 1 to 100 characters.
admin-error-description = Enter at most 2000 characters.
admin-error-join-policy = Choose how people join.
admin-error-member-limit = Enter a whole number from 1 to { $max }, or leave the field empty.

## Deleting a group
admin-delete-heading = Delete the group
admin-delete-warning = Deleting removes the group, its directory and its invites for every member. This cannot be undone.
admin-delete-confirm = I understand: delete this group for everyone
admin-delete-submit = Delete group
admin-delete-owner-only = Only the group's owner can delete it.
admin-error-delete-confirm = Tick the box to confirm that the group should be deleted.

## Invites
admin-invites-title = Invites of { $group }
admin-invite-new = New invite
admin-invite-expires-days = Valid for (days)
admin-invite-expires-hint = 1 to { $max } days.
admin-invite-max-uses = Maximum number of uses
admin-invite-max-uses-hint = Leave empty for no limit.
admin-invite-create = Create invite
admin-invite-created = Here is the new invite link. Copy it or show the QR code now: the link is shown only once.
admin-invite-link = Invite link
admin-invite-qr-alt = QR code of the invite link
admin-invite-copy = Copy
admin-invite-list = Open invites
admin-invites-empty = There are no open invites.
admin-invite-created-at = Created { $date }
admin-invite-expires = Valid until { $date }
admin-invite-expired = Expired
admin-invite-used-up = Used up
admin-invite-uses = { $uses ->
    [one] Used once
   *[other] Used { $uses } times
}
admin-invite-uses-limited = Used { $uses } of { $max } times
admin-invite-link-hidden = The link was shown when the invite was made. If it is lost, revoke this invite and make a new one.
admin-invite-revoke = Revoke
admin-error-expires-days = Enter a whole number of days from 1 to { $max }.
admin-error-max-uses = Enter a whole number of at least 1, or leave the field empty.

## Members and requests
admin-members-title = Members of { $group }
admin-pending-heading = Requests to join
admin-pending-empty = Nobody is waiting for approval.
admin-approve = Approve
admin-deny = Deny
admin-members-heading = Members ({ $count })
admin-requested = Asked on { $date }
admin-member-since = Member since { $date }
admin-role-owner = Owner
admin-role-admin = Admin
admin-role-member = Member
admin-role-label = Role of { $name }
admin-role-save = Change role
admin-remove = Remove…
admin-transfer = Make owner…
admin-you = (you)

## Confirmation pages
admin-cancel = Cancel
admin-confirm-remove-title = Remove { $name } from the group?
admin-confirm-remove-text = { $name } leaves the directory of { $group } and no longer sees it. Joining again takes a new invite.
admin-confirm-remove-submit = Remove from the group
admin-confirm-transfer-title = Make { $name } the owner of { $group }?
admin-confirm-transfer-text = { $name } becomes the owner. You stay an admin, but you can no longer change roles, hand the group on or delete it.
admin-confirm-transfer-submit = Transfer ownership
