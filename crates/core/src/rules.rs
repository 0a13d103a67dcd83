//! Who may do what. Every permission decision in the product is made by a function here, so
//! the rules can be read (and tested) in one place.

/// Who may find an account by its phone number (`contacts.add` with a `phone`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PhonePrivacy {
    /// Anyone who knows the number (Telegram's default).
    #[default]
    Everybody,
    /// Only people the account has in its own contacts.
    Contacts,
    Nobody,
}

/// Whether someone who typed an account's number may find it: by its owner's setting, and
/// whether the owner has the searcher in their contacts. A hidden account answers exactly
/// as a number without an account does.
pub fn may_find_by_phone(privacy: PhonePrivacy, searcher_is_their_contact: bool) -> bool {
    match privacy {
        PhonePrivacy::Everybody => true,
        PhonePrivacy::Contacts => searcher_is_their_contact,
        PhonePrivacy::Nobody => false,
    }
}

/// The kind of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatKind {
    /// Two people. Both may pin; each may delete their own messages for everyone.
    Private,
    /// Many people who all may write.
    Group,
    /// Admins post, subscribers read.
    Channel,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Private => "private",
            ChatKind::Group => "group",
            ChatKind::Channel => "channel",
        }
    }

    pub fn parse(s: &str) -> Option<ChatKind> {
        match s {
            "private" => Some(ChatKind::Private),
            "group" => Some(ChatKind::Group),
            "channel" => Some(ChatKind::Channel),
            _ => None,
        }
    }
}

/// A member's role in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Admin,
    Creator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Creator => "creator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "creator" => Some(Role::Creator),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// Most members a group may have.
pub const MAX_GROUP_MEMBERS: u64 = 200_000;

/// May a member with `role` post in a chat of `kind`?
pub fn can_post(kind: ChatKind, role: Role) -> bool {
    kind != ChatKind::Channel || role.is_admin()
}

/// May a member with `role` delete someone else's message for everyone?
pub fn can_delete_others(kind: ChatKind, role: Role) -> bool {
    kind != ChatKind::Private && role.is_admin()
}

/// May a member with `role` pin or unpin messages?
pub fn can_pin(kind: ChatKind, role: Role) -> bool {
    kind == ChatKind::Private || role.is_admin()
}

/// May a member with `role` add or remove members, change the title, or export an invite?
pub fn can_manage(kind: ChatKind, role: Role) -> bool {
    kind != ChatKind::Private && role.is_admin()
}

/// May `actor` remove `target` from the chat? Nobody removes the creator; admins remove
/// members, only the creator removes admins.
pub fn can_remove(actor: Role, target: Role) -> bool {
    target != Role::Creator && actor.is_admin() && (target == Role::Member || actor == Role::Creator)
}

/// Does a chat of `kind` with `members` members keep its own update log, instead of writing
/// one row per member into their logs? Channels always do (their subscribers are unbounded);
/// groups do once they are large.
pub fn keeps_own_log(kind: ChatKind, members: u64, large_group_threshold: u64) -> bool {
    match kind {
        ChatKind::Private => false,
        ChatKind::Group => members > large_group_threshold,
        ChatKind::Channel => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChatKind::*;
    use Role::*;

    #[test]
    fn permission_table() {
        // (kind, role, post, delete_others, pin, manage)
        let table = [
            (Private, Member, true, false, true, false),
            (Group, Member, true, false, false, false),
            (Group, Admin, true, true, true, true),
            (Group, Creator, true, true, true, true),
            (Channel, Member, false, false, false, false),
            (Channel, Admin, true, true, true, true),
        ];
        for (kind, role, post, del, pin, manage) in table {
            assert_eq!(can_post(kind, role), post, "post {kind:?} {role:?}");
            assert_eq!(can_delete_others(kind, role), del, "delete {kind:?} {role:?}");
            assert_eq!(can_pin(kind, role), pin, "pin {kind:?} {role:?}");
            assert_eq!(can_manage(kind, role), manage, "manage {kind:?} {role:?}");
        }
    }

    #[test]
    fn removal_table() {
        for (actor, target, ok) in [
            (Member, Member, false),
            (Admin, Member, true),
            (Admin, Admin, false),
            (Creator, Admin, true),
            (Creator, Creator, false),
            (Admin, Creator, false),
        ] {
            assert_eq!(can_remove(actor, target), ok, "{actor:?} removes {target:?}");
        }
    }

    #[test]
    fn own_log() {
        assert!(!keeps_own_log(Private, 2, 10));
        assert!(!keeps_own_log(Group, 10, 10));
        assert!(keeps_own_log(Group, 11, 10));
        assert!(keeps_own_log(Channel, 1, 10));
    }
}
