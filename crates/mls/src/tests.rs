//! Alice with two devices and Bob with one, without a server: what MLS itself guarantees.

use super::*;

fn kp(d: &Device) -> Vec<u8> {
    d.key_package(false).expect("key package")
}

/// A device added later cannot read earlier messages; a removed device cannot read later ones; everyone else reads everything.
#[test]
fn later_and_removed_devices() {
    let a1 = Device::new(1, 11).expect("a1");
    let a2 = Device::new(1, 12).expect("a2");
    let b1 = Device::new(2, 21).expect("b1");
    let (gid, _) = a1.create_group().expect("create");
    let c = a1.add(&gid, &[kp(&b1)]).expect("add bob");
    a1.merge_pending(&gid).expect("merge");
    assert!(matches!(b1.process(&c.welcome.expect("welcome")).expect("join"), Incoming::Joined { epoch: 1, .. }));

    let early = a1.encrypt(&gid, b"before a2").expect("encrypt");
    assert_eq!(b1.process(&early).expect("decrypt"), Incoming::Application { from: (1, 11), plaintext: b"before a2".to_vec() });

    let c = a1.add(&gid, &[kp(&a2)]).expect("add a2");
    a1.merge_pending(&gid).expect("merge");
    b1.process(&c.commit).expect("bob merges");
    a2.process(&c.welcome.expect("welcome")).expect("a2 joins");
    assert!(a2.process(&early).is_err() || matches!(a2.process(&early), Ok(Incoming::Ignored)), "a2 cannot read what came before it");
    let later = b1.encrypt(&gid, b"hello both").expect("encrypt");
    for d in [&a1, &a2] {
        assert_eq!(d.process(&later).expect("decrypt"), Incoming::Application { from: (2, 21), plaintext: b"hello both".to_vec() });
    }

    // A device saved to its profile and loaded again carries on.
    let b1 = Device::load(&b1.save()).expect("reload");
    let c = b1.remove(&gid, &[(1, 12)]).expect("remove a2");
    b1.merge_pending(&gid).expect("merge");
    a1.process(&c.commit).expect("a1 merges");
    let after = a1.encrypt(&gid, b"a2 is gone").expect("encrypt");
    assert_eq!(b1.process(&after).expect("decrypt"), Incoming::Application { from: (1, 11), plaintext: b"a2 is gone".to_vec() });
    a2.process(&c.commit).ok();
    assert!(!matches!(a2.process(&after), Ok(Incoming::Application { .. })), "the removed device cannot read later messages");
    assert_eq!(a1.members(&gid).expect("members"), vec![(1, 11), (2, 21)]);
}
