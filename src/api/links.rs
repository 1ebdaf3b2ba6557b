//! Media links signed where answers are built: a stored key (`store:…`) in a link field of a
//! typed answer becomes a signed, expiring link for the caller who gets the answer (who was
//! allowed to see what it describes). Fields a client wrote (a shared contact card) are never
//! link fields, so a client cannot have Courier sign a key it names.

use courier_actors::room::InviteView;
use courier_actors::storage::{key_of, Storage};
use courier_actors::store::sync::SyncView;
use courier_actors::store::views::{MessageView, UserBrief};

/// An answer, or a part of one, that holds media links.
pub trait SignLinks {
    /// Turns every stored key in its link fields into a signed link.
    fn sign_links(&mut self, storage: &Storage);
}

/// Signs one link field.
pub fn sign(storage: &Storage, link: &mut Option<String>) {
    if let Some(s) = link {
        sign_str(storage, s);
    }
}

/// Signs one link that is always there.
pub fn sign_str(storage: &Storage, link: &mut String) {
    if let Some(key) = key_of(link) {
        *link = storage.link(key);
    }
}

impl<T: SignLinks> SignLinks for Vec<T> {
    fn sign_links(&mut self, storage: &Storage) {
        self.iter_mut().for_each(|v| v.sign_links(storage));
    }
}

impl<T: SignLinks> SignLinks for Option<T> {
    fn sign_links(&mut self, storage: &Storage) {
        if let Some(v) = self {
            v.sign_links(storage);
        }
    }
}

impl SignLinks for UserBrief {
    fn sign_links(&mut self, storage: &Storage) {
        sign(storage, &mut self.avatar_url);
    }
}

impl SignLinks for MessageView {
    fn sign_links(&mut self, storage: &Storage) {
        sign(storage, &mut self.media_url);
        sign(storage, &mut self.thumbnail_url);
        self.sender.sign_links(storage);
    }
}

impl SignLinks for InviteView {
    fn sign_links(&mut self, storage: &Storage) {
        sign(storage, &mut self.group.avatar_url);
        self.invited_by.sign_links(storage);
    }
}

impl SignLinks for SyncView {
    fn sign_links(&mut self, storage: &Storage) {
        self.messages.sign_links(storage);
    }
}

/// Implements [`SignLinks`] for a struct from the list of its link fields (`Option<String>`)
/// and of its parts that hold links.
#[macro_export]
macro_rules! sign_fields {
    ($ty:ty { links: [$($link:ident),*], parts: [$($part:ident),*] }) => {
        impl $crate::api::links::SignLinks for $ty {
            #[allow(unused_variables)]
            fn sign_links(&mut self, storage: &courier_actors::storage::Storage) {
                $($crate::api::links::sign(storage, &mut self.$link);)*
                $($crate::api::links::SignLinks::sign_links(&mut self.$part, storage);)*
            }
        }
    };
}
