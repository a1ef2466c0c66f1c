//! The Cisco rules that guard a change, each a pure function whose refusal is a [`Rule`].

use ctl_format::{Certificate, NameStyle, serials_equal};
use ctl_provider::cluster::{NodeView, TargetKind};
use ctl_provider::message::PeerSource;

use super::{Entry, sast_certificates};
use crate::Error;
pub use crate::error::Rule;
pub use crate::selector::Selector;

/// Applies the Cisco rules for deleting an entry by hand: only tokens may be removed,
/// and two must remain.
///
/// # Errors
/// No such entry, a server entry, or fewer than two tokens left.
pub fn remove_token(
    tokens: &mut Vec<Certificate>,
    servers: &[Entry],
    selector: &Selector,
) -> Result<Certificate, Rule> {
    let matches = |c: &Certificate| match selector {
        Selector::Serial(s) => {
            let want: Vec<u8> = (0..s.len() / 2)
                .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            serials_equal(c.serial(), &want)
        }
        Selector::Subject(t) => {
            c.subject_text(NameStyle::Reversed) == *t
                || c.subject_text(NameStyle::DerOrder(',')) == *t
        }
    };
    if let Some(server) = servers.iter().find(|e| matches(&e.certificate)) {
        return Err(Rule::ServerEntry {
            entry: server.describe(),
            from: server.origin.to_string(),
        });
    }
    let Some(pos) = tokens.iter().position(matches) else {
        return Err(Rule::NoMatch(selector.clone()));
    };
    if tokens.len() <= 2 {
        return Err(Rule::TwoMustRemain {
            count: tokens.len(),
        });
    }
    Ok(tokens.remove(pos))
}

/// The distinct tokens of a first CTL, by the rules of mixed mode: two at least, and the
/// signer among them.
///
/// # Errors
/// Fewer than two distinct tokens, or a signer that is not one of them.
pub fn mixed_mode_tokens(tokens: &[Certificate], signer: &[u8]) -> Result<Vec<Certificate>, Rule> {
    let mut distinct: Vec<Certificate> = Vec::new();
    for t in tokens {
        if !distinct.iter().any(|d| d.der() == t.der()) {
            distinct.push(t.clone());
        }
    }
    if distinct.len() < 2 {
        return Err(Rule::TooFewTokens {
            given: distinct.len(),
        });
    }
    if !distinct.iter().any(|t| t.der() == signer) {
        return Err(Rule::SignerNotListed);
    }
    Ok(distinct)
}

/// What the client trusts a current CTL by, as a phone trusts a new one by the list it
/// holds: the CTL it last verified or committed for the cluster, or a CTL the operator
/// named by its hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct Anchor<'a> {
    /// The CTL held for this cluster.
    pub held: Option<&'a [u8]>,
    /// SHA-256 of a CTL the operator accepts after seeing it.
    pub accepted: Option<[u8; 32]>,
}

/// The refusal of a current CTL nothing here vouches for: why, its SAST records other
/// than `token` (by subject and serial), and its hash (for `--accept-ctl`).
pub fn untrusted_ctl(
    current: &[u8],
    sasts: &[Certificate],
    token: Option<&Certificate>,
    why: String,
) -> Error {
    let others = sasts
        .iter()
        .filter(|s| token.is_none_or(|t| s.der() != t.der()))
        .map(|s| {
            format!(
                "{} (serial {})",
                s.subject_text(NameStyle::Reversed),
                ctl_format::hex(s.serial())
            )
        })
        .collect();
    Rule::UntrustedCtl {
        why,
        others,
        hash: ctl_format::hex(&ctl_provider::ctl_hash(current)),
    }
    .into()
}

/// The current CTL's tokens, once the current CTL is trusted (a phone holding the anchor
/// would take it; with no anchor, it is signed by `token`, the token presented, or the
/// operator accepted it by hash), `token` is one of its SASTs and its signature verifies:
/// an update starts from a CTL that checks out and that nobody else chose.
///
/// # Errors
/// No current CTL, a CTL that does not parse or verify, that the anchor does not vouch
/// for (every SAST of it that is not `token` named), or a token not in it.
pub fn current_tokens(
    current: Option<&[u8]>,
    token: &Certificate,
    anchor: Anchor<'_>,
) -> Result<Vec<Certificate>, Error> {
    let current = current.ok_or(Rule::NoCtl)?;
    let doc = ctl_format::parse_trust_list(current).map_err(Error::CurrentCtl)?;
    let sasts = sast_certificates(&doc)?;
    let signer = doc
        .verify(&ctl_format::RsaVerifier)
        .map_err(Error::CurrentSignature)?
        .signer_certificate()
        .to_vec();
    let untrusted = |why: String| -> Error { untrusted_ctl(current, &sasts, Some(token), why) };
    let accepted = anchor.accepted == Some(ctl_provider::ctl_hash(current));
    match anchor.held {
        _ if accepted => {}
        Some(held) if held == current => {}
        Some(held) => {
            let held = ctl_format::parse_trust_list(held).map_err(Error::CurrentCtl)?;
            ctl_format::phone_accepts(Some(&held), &doc, &ctl_format::RsaVerifier).map_err(
                |e| {
                    untrusted(format!(
                        "a phone holding the CTL held here would refuse it: {e}"
                    ))
                },
            )?;
        }
        None if signer == token.der() => {}
        None => {
            return Err(untrusted(
                "it is not signed by the token presented, and no CTL is held here for this cluster"
                    .to_owned(),
            ));
        }
    }
    if !sasts.iter().any(|s| s.der() == token.der()) {
        return Err(Rule::TokenNotInCtl {
            subject: token.subject_text(NameStyle::Reversed),
            count: sasts.len(),
        }
        .into());
    }
    Ok(sasts)
}

/// `tokens` with `add` appended, each certificate once.
pub fn with_tokens(mut tokens: Vec<Certificate>, add: &[Certificate]) -> Vec<Certificate> {
    for t in add {
        if !tokens.iter().any(|x| x.der() == t.der()) {
            tokens.push(t.clone());
        }
    }
    tokens
}

/// Which of `nodes` is the off-cluster server `name` an update removes.
///
/// # Errors
/// No such server, or one in the first node's own configuration.
pub fn peer_to_remove(nodes: &[&NodeView], name: &str) -> Result<usize, Rule> {
    let Some(i) = nodes
        .iter()
        .position(|n| n.kind != TargetKind::Node && n.name == name)
    else {
        return Err(Rule::NoSuchPeer {
            name: name.to_owned(),
            known: nodes
                .iter()
                .filter(|n| n.kind != TargetKind::Node)
                .map(|n| n.name.clone())
                .collect(),
        });
    };
    if nodes.get(i).and_then(|n| n.source) == Some(PeerSource::Configured) {
        return Err(Rule::ConfiguredPeer {
            name: name.to_owned(),
        });
    }
    Ok(i)
}

/// A server an update adds must not be among `nodes` yet.
///
/// # Errors
/// A node or off-cluster server of that name.
pub fn check_new_peer(nodes: &[&NodeView], name: &str) -> Result<(), Rule> {
    match nodes.iter().find(|n| n.name == name) {
        Some(n) => Err(Rule::AlreadyListed {
            name: name.to_owned(),
            kind: n.kind,
        }),
        None => Ok(()),
    }
}

/// The signer of an update may remove another token, not itself.
///
/// # Errors
/// The removed token is the signer.
pub fn check_removal(removed: &Certificate, signer: &[u8]) -> Result<(), Rule> {
    if removed.der() == signer {
        Err(Rule::SignerRemovesItself)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use ctl_provider::cluster::NodeStatus;

    use super::*;

    use ctl_test_support::certificate as cert;

    fn node(name: &str, kind: TargetKind, source: Option<PeerSource>) -> NodeView {
        NodeView {
            name: name.to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 2444,
            kind,
            publisher: false,
            source,
            services: 0,
            resolved: Vec::new(),
            info: None,
            tls_certificate: None,
            status: NodeStatus::Ok,
            ctl: ctl_provider::cluster::HeldCtl::Unknown,
        }
    }

    #[test]
    fn mixed_mode_needs_two_distinct_tokens_and_the_signer_among_them() {
        let (t1, t2, t3) = (cert("sast1"), cert("sast2"), cert("tftp"));
        let cases: [(&[Certificate], &Certificate, Result<usize, Rule>); 5] = [
            (&[t1.clone(), t2.clone()], &t1, Ok(2)),
            (&[t1.clone(), t2.clone(), t1.clone()], &t2, Ok(2)),
            (
                std::slice::from_ref(&t1),
                &t1,
                Err(Rule::TooFewTokens { given: 1 }),
            ),
            (
                &[t1.clone(), t1.clone()],
                &t1,
                Err(Rule::TooFewTokens { given: 1 }),
            ),
            (&[t1.clone(), t2.clone()], &t3, Err(Rule::SignerNotListed)),
        ];
        for (tokens, signer, want) in cases {
            let got = mixed_mode_tokens(tokens, signer.der()).map(|v| v.len());
            assert_eq!(got, want, "{} tokens", tokens.len());
        }
    }

    #[test]
    fn an_update_starts_from_a_verifying_ctl_that_lists_its_signer() {
        let (t1, t2, t3) = (cert("sast1"), cert("sast2"), cert("tftp"));
        let ctl = std::fs::read(ctl_test_support::fixture("CTLFile-sha1.tlv")).unwrap();
        let mut tampered = ctl.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let held = Anchor {
            held: Some(&ctl),
            accepted: None,
        };
        // Signed by the token presented (sast1), or vouched for by the CTL held, or
        // accepted by hash; signed by the other token with nothing held: not trusted.
        assert_eq!(
            current_tokens(Some(&ctl), &t1, Anchor::default())
                .unwrap()
                .len(),
            2
        );
        assert_eq!(current_tokens(Some(&ctl), &t2, held).unwrap().len(), 2);
        assert!(matches!(
            current_tokens(Some(&ctl), &t2, Anchor::default()),
            Err(Error::Rule(Rule::UntrustedCtl { .. }))
        ));
        let by_hash = Anchor {
            held: None,
            accepted: Some(ctl_provider::ctl_hash(&ctl)),
        };
        assert_eq!(current_tokens(Some(&ctl), &t2, by_hash).unwrap().len(), 2);
        assert!(matches!(
            current_tokens(None, &t1, Anchor::default()),
            Err(Error::Rule(Rule::NoCtl))
        ));
        assert!(matches!(
            current_tokens(Some(&ctl), &t3, held),
            Err(Error::Rule(Rule::TokenNotInCtl { count: 2, .. }))
        ));
        assert!(matches!(
            current_tokens(Some(&tampered), &t1, Anchor::default()),
            Err(Error::CurrentSignature(_))
        ));
        assert!(matches!(
            current_tokens(Some(b"not a ctl"), &t1, Anchor::default()),
            Err(Error::CurrentCtl(_))
        ));
    }

    #[test]
    fn tokens_are_added_once() {
        let (t1, t2) = (cert("sast1"), cert("sast2"));
        let got = with_tokens(vec![t1.clone()], &[t2.clone(), t1.clone(), t2]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].der(), t1.der());
    }

    #[test]
    fn off_cluster_servers_are_removed_by_name_unless_configured() {
        let nodes = [
            node("cucm-pub", TargetKind::Node, None),
            node("asa-1", TargetKind::Firewall, Some(PeerSource::Stored)),
            node("asa-c", TargetKind::Firewall, Some(PeerSource::Configured)),
            node("tftp-9", TargetKind::AlternateTftp, None),
        ];
        let nodes: Vec<&NodeView> = nodes.iter().collect();
        let cases = [
            ("asa-1", Ok(1)),
            ("tftp-9", Ok(3)),
            (
                "asa-c",
                Err(Rule::ConfiguredPeer {
                    name: "asa-c".into(),
                }),
            ),
            (
                "cucm-pub",
                Err(Rule::NoSuchPeer {
                    name: "cucm-pub".into(),
                    known: vec!["asa-1".into(), "asa-c".into(), "tftp-9".into()],
                }),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(peer_to_remove(&nodes, name), want, "{name}");
        }
        let none: Vec<&NodeView> = Vec::new();
        assert_eq!(
            peer_to_remove(&none, "x").unwrap_err().to_string(),
            "no alternate TFTP server or firewall is named x (known: none)"
        );
    }

    #[test]
    fn a_server_to_add_must_be_new() {
        let nodes = [
            node("cucm-pub", TargetKind::Node, None),
            node("asa-1", TargetKind::Firewall, None),
        ];
        let nodes: Vec<&NodeView> = nodes.iter().collect();
        assert_eq!(check_new_peer(&nodes, "asa-2"), Ok(()));
        for (name, kind, text) in [
            (
                "cucm-pub",
                TargetKind::Node,
                "cucm-pub is already a cluster node",
            ),
            (
                "asa-1",
                TargetKind::Firewall,
                "asa-1 is already a firewall of this CTL",
            ),
        ] {
            let e = check_new_peer(&nodes, name).unwrap_err();
            assert_eq!(
                e,
                Rule::AlreadyListed {
                    name: name.into(),
                    kind
                }
            );
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn the_signer_cannot_remove_itself() {
        let (t1, t2) = (cert("sast1"), cert("sast2"));
        assert_eq!(check_removal(&t2, t1.der()), Ok(()));
        assert_eq!(check_removal(&t1, t1.der()), Err(Rule::SignerRemovesItself));
    }

    #[test]
    fn only_tokens_are_removed_by_hand_and_two_remain() {
        let (t1, t2, t3) = (cert("sast1"), cert("sast2"), cert("itlrecovery"));
        let server = Entry {
            role: ctl_format::Role::CCM,
            certificate: cert("ccm"),
            dns_name: Some("cucm-pub".into()),
            ip_address: None,
            origin: super::super::Origin::Node("cucm-pub".into()),
        };
        let by_subject = |c: &Certificate| Selector::Subject(c.subject_text(NameStyle::Reversed));
        let mut three = vec![t1.clone(), t2.clone(), t3.clone()];
        let removed = remove_token(&mut three, std::slice::from_ref(&server), &by_subject(&t3));
        assert_eq!(removed.unwrap().der(), t3.der());
        assert_eq!(three.len(), 2);
        assert_eq!(
            remove_token(&mut three, &[], &by_subject(&t2)).err(),
            Some(Rule::TwoMustRemain { count: 2 })
        );
        assert!(matches!(
            remove_token(
                &mut three,
                std::slice::from_ref(&server),
                &by_subject(&server.certificate)
            ),
            Err(Rule::ServerEntry { .. })
        ));
        let unknown = Selector::Serial("00".into());
        assert_eq!(
            remove_token(&mut three, &[], &unknown).err(),
            Some(Rule::NoMatch(unknown.clone()))
        );
        assert_eq!(
            Rule::NoMatch(unknown).to_string(),
            "no entry matches serial 00"
        );
    }

    #[test]
    fn records_come_from_where_they_belong() {
        use ctl_format::Role as R;
        use ctl_provider::message::service::{CALLMANAGER as CM, CAPF, TFTP, TVS};
        let publisher = NodeView {
            publisher: true,
            ..node("pub", TargetKind::Node, None)
        };
        let sub = node("sub", TargetKind::Node, None);
        let alt = node("alt", TargetKind::AlternateTftp, None);
        let fw = node("asa", TargetKind::Firewall, None);
        let ok = |n: &NodeView, services, claimed, granted: &[R]| {
            crate::plan::justified_role(n, services, claimed, granted)
        };
        for (n, services, claimed, want) in [
            (&sub, CM, R::CCM, Some(R::CCM)),
            (&sub, CM | TFTP, R::CCM_TFTP, Some(R::CCM_TFTP)),
            (&sub, TFTP, R::TFTP, Some(R::TFTP)),
            (&sub, 0, R::CCM, Some(R::CCM)),
            (&sub, CM, R::CCM_TFTP, None),
            (&sub, CM, R::TFTP, None),
            (&sub, CM | TFTP, R::TFTP, None),
            (&sub, CM | CAPF, R::CAPF, None),
            (&publisher, CM | CAPF, R::CAPF, Some(R::CAPF)),
            (&publisher, CM, R::CAPF, None),
            (&sub, CM | TVS, R::TVS, Some(R::TVS)),
            (&sub, CM, R::TVS, None),
            (&publisher, CM | TFTP | CAPF | TVS, R::SAST, None),
            (&sub, CM, R::APP_SERVER, None),
            (&alt, TFTP, R::TFTP, Some(R::TFTP)),
            (&alt, TFTP, R::CCM_TFTP, Some(R::TFTP)),
            (&alt, TFTP, R::CAPF, None),
            (&fw, 0, R::CCM, Some(R::CCM)),
            (&fw, 0, R::TVS, None),
            (&fw, 0, R::SAST, None),
        ] {
            assert_eq!(
                ok(n, services, claimed, &[]).ok(),
                want,
                "{} services {services} claims {claimed}",
                n.name
            );
        }
        // One record per role: a second CallManager certificate, or a second TVS.
        assert!(ok(&sub, CM | TFTP, R::CCM, &[R::CCM_TFTP]).is_err());
        assert!(ok(&sub, CM | TVS, R::TVS, &[R::CCM, R::TVS]).is_err());
        assert!(ok(&fw, 0, R::CCM, &[R::CCM]).is_err());
    }
}
