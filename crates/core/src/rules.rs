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

/// What the members of a group who are not admins may send: the group's own defaults,
/// narrowed for one member by a restriction (the Bot API's `ChatPermissions`). One bit per
/// kind of message; admins and the creator are never restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions(u8);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    pub const TEXT: Permissions = Permissions(1);
    pub const PHOTOS: Permissions = Permissions(1 << 1);
    pub const VIDEOS: Permissions = Permissions(1 << 2);
    pub const AUDIOS: Permissions = Permissions(1 << 3);
    pub const DOCUMENTS: Permissions = Permissions(1 << 4);
    pub const VOICE: Permissions = Permissions(1 << 5);
    pub const ALL: Permissions = Permissions(0b11_1111);

    /// The stored form; bits this build does not know are dropped.
    pub fn from_bits(bits: i64) -> Permissions {
        Permissions((bits & i64::from(Permissions::ALL.0)) as u8)
    }
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }
    pub fn allows(self, needed: Permissions) -> bool {
        self.0 & needed.0 == needed.0
    }
    /// These, and `other` too when `on`.
    pub fn with(self, other: Permissions, on: bool) -> Permissions {
        if on {
            Permissions(self.0 | other.0)
        } else {
            Permissions(self.0 & !other.0)
        }
    }
    /// What both allow.
    pub fn and(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// What sending `content` needs.
    pub fn needed(content: &crate::Content) -> Permissions {
        match content {
            crate::Content::Text(_) => Permissions::TEXT,
            crate::Content::Media(m) => match m.kind {
                crate::MediaKind::Photo => Permissions::PHOTOS,
                crate::MediaKind::Video => Permissions::VIDEOS,
                crate::MediaKind::Audio => Permissions::AUDIOS,
                crate::MediaKind::Voice => Permissions::VOICE,
                crate::MediaKind::Document => Permissions::DOCUMENTS,
            },
        }
    }
}

/// May a member with `role`, allowed `allowed` (the group's permissions and their own
/// restriction together), send what needs `needed` in a chat of `kind`? Only groups restrict
/// their members; admins are never restricted.
pub fn may_send(kind: ChatKind, role: Role, allowed: Permissions, needed: Permissions) -> bool {
    can_post(kind, role) && (kind != ChatKind::Group || role.is_admin() || allowed.allows(needed))
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
    fn restricted_members_send_only_what_they_are_allowed() {
        let text_only = Permissions::NONE.with(Permissions::TEXT, true);
        // (kind, role, allowed, needed, may)
        let table = [
            (Group, Member, Permissions::ALL, Permissions::PHOTOS, true),
            (Group, Member, text_only, Permissions::TEXT, true),
            (Group, Member, text_only, Permissions::PHOTOS, false),
            (Group, Member, Permissions::NONE, Permissions::TEXT, false),
            (Group, Admin, Permissions::NONE, Permissions::TEXT, true),
            (Group, Creator, Permissions::NONE, Permissions::VOICE, true),
            (Private, Member, Permissions::NONE, Permissions::TEXT, true),
            (Channel, Member, Permissions::ALL, Permissions::TEXT, false),
            (Channel, Admin, Permissions::NONE, Permissions::TEXT, true),
        ];
        for (kind, role, allowed, needed, may) in table {
            assert_eq!(may_send(kind, role, allowed, needed), may, "{kind:?} {role:?} {allowed:?} {needed:?}");
        }
        assert_eq!(Permissions::from_bits(Permissions::ALL.bits() | 1 << 20), Permissions::ALL, "unknown bits dropped");
        assert_eq!(Permissions::ALL.with(Permissions::TEXT, false).and(text_only), Permissions::NONE);
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
