//! Keys from PKCS #12 files (RFC 7292): the `ITLRecovery.p12` CUCM lets an admin export,
//! and what `openssl pkcs12 -export` writes.
//!
//! Read: the MAC (HMAC with SHA-1, SHA-256 or SHA-512, key from the PKCS #12 KDF), which
//! tells a wrong password apart from a damaged file; safes in the clear or encrypted with
//! PBES2 (PBKDF2 and AES-CBC: OpenSSL 3's default) or PBE-SHA1-3DES (older exports);
//! shrouded and plain key bags; X.509 certificate bags. A safe encrypted otherwise (RC2,
//! as some old exports do for certificates) is skipped: the key's certificate can then be
//! found elsewhere (the held trust list's SAST records).

use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _};
use hmac::{KeyInit as _, Mac as _};
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use pkcs12::pfx::Pfx;
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use crate::error::Error;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const X509_CERT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Iteration counts above this are not an export's (OpenSSL writes 2,048, Windows 2,000,
/// Java keytool up to 100,000) but an attack on the reader's CPU.
pub(crate) const MAX_ITERATIONS: i32 = 1_000_000;

/// How much of a file is checked: everything, or (fuzzing) all but the MAC, with fewer
/// iterations, to reach the parsers behind it.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) verify_mac: bool,
    pub(crate) max_iterations: i32,
}

impl Limits {
    pub(crate) const FULL: Self = Self {
        verify_mac: true,
        max_iterations: MAX_ITERATIONS,
    };
}

/// What a PKCS #12 file holds that a signer needs.
pub(crate) struct Contents {
    /// Private keys, PKCS #8 DER.
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
    /// Certificates, DER.
    pub(crate) certs: Vec<Vec<u8>>,
}

/// Why a PKCS #12 file cannot be read.
fn invalid(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::InvalidKey {
        what: what.to_owned(),
        reason: format!("PKCS #12: {reason}"),
    }
}

/// The content of a `[0] EXPLICIT` element (a safe bag's value).
fn explicit_content(tlv: &[u8]) -> Result<&[u8], der::Error> {
    Ok(AnyRef::from_der(tlv)?.value())
}

/// Reads `der` with `password`; `what` names the file in errors.
pub(crate) fn open(der: &[u8], password: &SecretString, what: &str) -> Result<Contents, Error> {
    open_with(der, password, what, Limits::FULL)
}

/// [`open`] within `limits`.
pub(crate) fn open_with(
    der: &[u8],
    password: &SecretString,
    what: &str,
    limits: Limits,
) -> Result<Contents, Error> {
    let pfx = Pfx::from_der(der).map_err(|e| invalid(what, format_args!("not a PFX: {e}")))?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(invalid(
            what,
            "the safe is public-key protected, not password protected",
        ));
    }
    let data = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(|e| invalid(what, e))?;
    let data = data.as_bytes();
    let pw = password.expose_secret();
    match &pfx.mac_data {
        Some(mac) if limits.verify_mac => check_mac(mac, data, pw, what, limits)?,
        Some(_) => {}
        None => {
            return Err(invalid(
                what,
                "no MAC: the file's integrity and password cannot be checked",
            ));
        }
    }
    let safes = pkcs12::AuthenticatedSafe::from_der(data).map_err(|e| invalid(what, e))?;
    let mut out = Contents {
        keys: Vec::new(),
        certs: Vec::new(),
    };
    for safe in safes {
        let plain = if safe.content_type == ID_DATA {
            let o = safe
                .content
                .decode_as::<OctetString>()
                .map_err(|e| invalid(what, e))?;
            Zeroizing::new(o.as_bytes().to_vec())
        } else if safe.content_type == ID_ENCRYPTED_DATA {
            let inner = safe.content.to_der().map_err(|e| invalid(what, e))?;
            let ed = pkcs12::cms::encrypted_data::EncryptedData::from_der(&inner)
                .map_err(|e| invalid(what, e))?;
            let info = ed.enc_content_info;
            let Some(ct) = info.encrypted_content else {
                continue;
            };
            match decrypt(&info.content_enc_alg, ct.as_bytes(), pw, what, limits)? {
                Some(p) => p,
                // A cipher this reader does not do (RC2): skip the safe.
                None => continue,
            }
        } else {
            continue;
        };
        bags(&plain, pw, what, limits, &mut out)?;
    }
    Ok(out)
}

fn check_mac(
    mac: &pkcs12::MacData,
    data: &[u8],
    pw: &str,
    what: &str,
    limits: Limits,
) -> Result<(), Error> {
    if !(1..=limits.max_iterations).contains(&mac.iterations) {
        return Err(invalid(
            what,
            format_args!("{} MAC iterations", mac.iterations),
        ));
    }
    let salt = mac.mac_salt.as_bytes();
    let expected = mac.mac.digest.as_bytes();
    let alg = mac.mac.algorithm.oid;
    macro_rules! verify {
        ($d:ty, $len:expr) => {{
            let key = Zeroizing::new(
                derive_key_utf8::<$d>(pw, salt, Pkcs12KeyType::Mac, mac.iterations, $len)
                    .map_err(|e| invalid(what, e))?,
            );
            let mut h = hmac::Hmac::<$d>::new_from_slice(&key).map_err(|e| invalid(what, e))?;
            h.update(data);
            h.verify_slice(expected).is_ok()
        }};
    }
    let ok = if alg == SHA1 {
        verify!(sha1::Sha1, 20)
    } else if alg == SHA256 {
        verify!(sha2::Sha256, 32)
    } else if alg == SHA512 {
        verify!(sha2::Sha512, 64)
    } else {
        return Err(invalid(
            what,
            format_args!("MAC digest {alg} is not supported"),
        ));
    };
    if ok {
        Ok(())
    } else {
        Err(Error::WrongPassword {
            what: what.to_owned(),
        })
    }
}

/// Decrypts a safe or a shrouded key; `None` for a cipher this reader does not do.
fn decrypt(
    alg: &x509_cert::spki::AlgorithmIdentifierOwned,
    ct: &[u8],
    pw: &str,
    what: &str,
    limits: Limits,
) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    let params = alg
        .parameters
        .as_ref()
        .map(|p| p.to_der())
        .transpose()
        .map_err(|e| invalid(what, e))?
        .unwrap_or_default();
    if alg.oid == PBES2 {
        let p = pkcs5::pbes2::Parameters::from_der(&params).map_err(|e| invalid(what, e))?;
        if let pkcs5::pbes2::Kdf::Pbkdf2(k) = &p.kdf
            && k.iteration_count > limits.max_iterations.unsigned_abs()
        {
            return Err(invalid(
                what,
                format_args!("{} PBKDF2 iterations", k.iteration_count),
            ));
        }
        return pkcs5::EncryptionScheme::Pbes2(p)
            .decrypt(pw, ct)
            .map(|v| Some(Zeroizing::new(v)))
            .map_err(|_| Error::WrongPassword {
                what: what.to_owned(),
            });
    }
    if alg.oid == pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC {
        use cbc::cipher::{BlockModeDecrypt as _, KeyIvInit as _};
        let p =
            pkcs12::pbe_params::Pkcs12PbeParams::from_der(&params).map_err(|e| invalid(what, e))?;
        if !(1..=limits.max_iterations).contains(&p.iterations) {
            return Err(invalid(what, format_args!("{} iterations", p.iterations)));
        }
        let salt = p.salt.as_bytes();
        let derive = |kind, len| {
            derive_key_utf8::<sha1::Sha1>(pw, salt, kind, p.iterations, len)
                .map(Zeroizing::new)
                .map_err(|e| invalid(what, e))
        };
        let key = derive(Pkcs12KeyType::EncryptionKey, 24)?;
        let iv = derive(Pkcs12KeyType::Iv, 8)?;
        let dec = cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|e| invalid(what, e))?;
        return dec
            .decrypt_padded_vec::<cbc::cipher::block_padding::Pkcs7>(ct)
            .map(|v| Some(Zeroizing::new(v)))
            .map_err(|_| Error::WrongPassword {
                what: what.to_owned(),
            });
    }
    Ok(None)
}

fn bags(
    plain: &[u8],
    pw: &str,
    what: &str,
    limits: Limits,
    out: &mut Contents,
) -> Result<(), Error> {
    let bags = Vec::<pkcs12::SafeBag>::from_der(plain).map_err(|e| invalid(what, e))?;
    for bag in bags {
        let value = explicit_content(&bag.bag_value).map_err(|e| invalid(what, e))?;
        if bag.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
            let epki = pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(value)
                .map_err(|e| invalid(what, e))?;
            if let Some(key) = decrypt(
                &epki.encryption_algorithm,
                epki.encrypted_data.as_bytes(),
                pw,
                what,
                limits,
            )? {
                out.keys.push(key);
            }
        } else if bag.bag_id == pkcs12::PKCS_12_KEY_BAG_OID {
            out.keys.push(Zeroizing::new(value.to_vec()));
        } else if bag.bag_id == pkcs12::PKCS_12_CERT_BAG_OID {
            let cert = pkcs12::CertBag::from_der(value).map_err(|e| invalid(what, e))?;
            if cert.cert_id == X509_CERT {
                out.certs.push(cert.cert_value.as_bytes().to_vec());
            }
        }
    }
    Ok(())
}
