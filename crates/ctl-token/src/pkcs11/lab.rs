//! Lab operations (feature `lab`): create a token, put a key and certificate on it.
//!
//! Real security tokens come initialized; these are for SoftHSM2 and labs.

use std::sync::Mutex;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::{Decode as _, Encode as _};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::{Module, Token, list_tokens};
use crate::Error;

/// C_InitToken always takes the one free slot, so two provisions must not overlap.
static PROVISION: Mutex<()> = Mutex::new(());

fn auth(pin: &SecretString) -> AuthPin {
    AuthPin::from(pin.expose_secret())
}

/// Initializes a new token labelled `label` in a free slot of `module`, with a
/// security officer PIN and a user PIN.
///
/// # Errors
/// A token of that label exists already, no free slot (the module cannot create
/// tokens), or a PKCS#11 failure.
pub fn init_token(
    module: &Module,
    label: &str,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<Token, Error> {
    init(module, label, (so_pin, user_pin), false)
}

/// [`init_token`] even when another token has `label`, as two tokens fresh from the
/// factory may: for tests of how URIs that name both are refused.
///
/// # Errors
/// No free slot, or a PKCS#11 failure.
pub fn init_twin_token(
    module: &Module,
    label: &str,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<Token, Error> {
    init(module, label, (so_pin, user_pin), true)
}

fn init(
    module: &Module,
    label: &str,
    (so_pin, user_pin): (&SecretString, &SecretString),
    twins: bool,
) -> Result<Token, Error> {
    let _guard = PROVISION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Checked under the provisioning lock: no other init can slip in between.
    if let Some(t) = list_tokens(std::slice::from_ref(module))?
        .into_iter()
        .find(|t| !twins && t.summary().label == label)
    {
        return Err(Error::LabelInUse {
            label: label.to_owned(),
            serial: t.summary().serial.clone(),
        });
    }
    let name = module.path().display().to_string();
    let ctx = module.ctx();
    let err = |op: &'static str| {
        let name = name.clone();
        move |e| super::token_error(&name, op, e)
    };
    let free = ctx
        .get_slots_with_token()
        .map_err(err("C_GetSlotList"))?
        .into_iter()
        .find(|s| ctx.get_token_info(*s).is_ok_and(|i| !i.token_initialized()))
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: no free slot to initialize a token in",
                module.path().display()
            ))
        })?;
    ctx.init_token(free, &auth(so_pin), label)
        .map_err(err("C_InitToken"))?;
    // The module may move the token to another slot id: look it up by label.
    let token = list_tokens(std::slice::from_ref(module))?
        .into_iter()
        .find(|t| t.summary().label == label)
        .ok_or_else(|| {
            Error::Internal(format!(
                "token \"{}\" not found after C_InitToken",
                label.escape_debug()
            ))
        })?;
    let session = token.open_rw_session()?;
    // An SO login is refused while any read-only session is open on the token: another
    // thread looking at the new token (a waiter reading its certificates) holds one for a
    // moment. Retry for up to two seconds.
    let mut tries = 0;
    loop {
        match session.login(UserType::So, Some(&auth(so_pin))) {
            Ok(()) => break,
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::SessionReadOnlyExists,
                _,
            )) if tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(token.error("C_Login", e)),
        }
    }
    session
        .init_pin(&auth(user_pin))
        .map_err(|e| token.error("C_InitPIN", e))?;
    session.logout().map_err(|e| token.error("C_Logout", e))?;
    Ok(token)
}

fn user_session(token: &mut Token, pin: &SecretString) -> Result<Session, Error> {
    let session = token.open_rw_session()?;
    token.login(&session, pin)?;
    Ok(session)
}

/// Stores an RSA private key (sensitive, sign-only) and its public key under `id` and `label`.
///
/// # Errors
/// A wrong PIN, or the token refuses the objects.
pub fn import_rsa_key(
    token: &mut Token,
    pin: &SecretString,
    key: &rsa::PrivateKey,
    id: &[u8],
    label: &str,
) -> Result<(), Error> {
    import_rsa_key_allowing(token, pin, key, id, label, &[])
}

/// [`import_rsa_key`], the private key limited to the `allowed` mechanisms
/// (CKA_ALLOWED_MECHANISMS; none given: no limit), as tokens that refuse some of the
/// mechanisms they list for a key.
///
/// # Errors
/// A wrong PIN, or the token refuses the objects.
pub fn import_rsa_key_allowing(
    token: &mut Token,
    pin: &SecretString,
    key: &rsa::PrivateKey,
    id: &[u8],
    label: &str,
    allowed: &[cryptoki::mechanism::MechanismType],
) -> Result<(), Error> {
    let der = key
        .to_pkcs1_der()
        .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
    let parts = rsa::pkcs1::RsaPrivateKeyRef::from_der(der.as_bytes())
        .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
    let session = user_session(token, pin)?;
    let b = |u: der::asn1::UintRef<'_>| u.as_bytes().to_vec();
    let mut private = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Modulus(b(parts.modulus)),
        Attribute::PublicExponent(b(parts.public_exponent)),
        Attribute::PrivateExponent(b(parts.private_exponent)),
        Attribute::Prime1(b(parts.prime1)),
        Attribute::Prime2(b(parts.prime2)),
        Attribute::Exponent1(b(parts.exponent1)),
        Attribute::Exponent2(b(parts.exponent2)),
        Attribute::Coefficient(b(parts.coefficient)),
    ];
    if !allowed.is_empty() {
        private.push(Attribute::AllowedMechanisms(allowed.to_vec()));
    }
    session
        .create_object(&private)
        .map_err(|e| token.error("C_CreateObject", e))?;
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Modulus(b(parts.modulus)),
            Attribute::PublicExponent(b(parts.public_exponent)),
        ])
        .map_err(|e| token.error("C_CreateObject", e))?;
    Ok(())
}

/// Stores a certificate under `id` and `label`.
///
/// # Errors
/// A certificate that cannot be read, a wrong PIN, or the token refuses it.
pub fn import_certificate(
    token: &mut Token,
    pin: &SecretString,
    cert_der: &[u8],
    id: &[u8],
    label: &str,
) -> Result<(), Error> {
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|e| Error::Certificate {
        what: label.to_owned(),
        source: ctl_format::CertificateError::Der(e.to_string()),
    })?;
    let subject = cert
        .tbs_certificate()
        .subject()
        .to_der()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let session = user_session(token, pin)?;
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Subject(subject),
            Attribute::Value(cert_der.to_vec()),
        ])
        .map_err(|e| token.error("C_CreateObject", e))?;
    Ok(())
}

/// A token public key that verifies, with one key-type attribute.
fn public_template(label: &str, id: &[u8], key_attribute: Attribute) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Verify(true),
        key_attribute,
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

/// A token private key that signs and never leaves the token.
fn private_template(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

/// Generates an EC P-256 key pair on the token (for certificates that phones take in
/// EC roles, such as TFTP for HTTPS provisioning; such keys cannot sign CTL files).
///
/// # Errors
/// A wrong PIN, or a token that cannot generate EC keys.
pub fn generate_ec_p256_key(
    token: &mut Token,
    pin: &SecretString,
    id: &[u8],
    label: &str,
) -> Result<(), Error> {
    let session = user_session(token, pin)?;
    // DER of the OID 1.2.840.10045.3.1.7 (prime256v1).
    let p256 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &public_template(label, id, Attribute::EcParams(p256)),
            &private_template(label, id),
        )
        .map_err(|e| token.error("C_GenerateKeyPair", e))?;
    Ok(())
}

/// The RSA public key of a key pair generated on the token, with rcgen signing through the token.
struct OnTokenKey<'s> {
    session: &'s Session,
    private: cryptoki::object::ObjectHandle,
    pkcs1: Vec<u8>,
}

impl rcgen::PublicKeyData for OnTokenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for OnTokenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.session
            .sign(&Mechanism::Sha256RsaPkcs, self.private, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// Generates an RSA key pair of `bits` on the token (the private key never leaves it)
/// and a self-signed certificate for `common_name`, signed on the token; stores the
/// certificate beside the key and returns it (DER).
///
/// # Errors
/// A wrong PIN, a token that cannot generate keys, or a certificate that cannot be made.
pub fn generate_rsa_key(
    token: &mut Token,
    pin: &SecretString,
    bits: usize,
    common_name: &str,
    id: &[u8],
    label: &str,
) -> Result<Vec<u8>, Error> {
    let der = {
        let session = user_session(token, pin)?;
        let modulus_bits = cryptoki::types::Ulong::from(u64::try_from(bits).unwrap_or(2048));
        let (public, private) = session
            .generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &[
                    public_template(label, id, Attribute::ModulusBits(modulus_bits)),
                    vec![Attribute::PublicExponent(vec![1, 0, 1])],
                ]
                .concat(),
                &private_template(label, id),
            )
            .map_err(|e| token.error("C_GenerateKeyPair", e))?;
        let attrs = session
            .get_attributes(
                public,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(|e| token.error("C_GetAttributeValue", e))?;
        let (mut n, mut e) = (Vec::new(), Vec::new());
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = v,
                Attribute::PublicExponent(v) => e = v,
                _ => {}
            }
        }
        let pkcs1 = rsa_public_key_der(&n, &e)?;
        let key = OnTokenKey {
            session: &session,
            private,
            pkcs1,
        };
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let year = current_year();
        params.not_before = rcgen::date_time_ymd(year, 1, 1);
        params.not_after = rcgen::date_time_ymd(year + 20, 1, 1);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial_from(&key.pkcs1)));
        params.self_signed(&key).map_err(cert_err)?.der().to_vec()
    };
    import_certificate(token, pin, &der, id, label)?;
    Ok(der)
}

fn cert_err(e: rcgen::Error) -> Error {
    Error::Internal(format!("making the certificate: {e}"))
}

/// A positive 16-byte serial derived from the public key (unique per key, no RNG needed).
fn serial_from(pkcs1: &[u8]) -> Vec<u8> {
    let mut s = ctl_format::DigestAlgorithm::Sha256.digest(&[pkcs1]);
    s.truncate(16);
    if let Some(first) = s.first_mut() {
        *first &= 0x7f;
        *first |= 0x01;
    }
    s
}

fn current_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ctl_format::format_utc(secs)
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(2026)
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Result<Vec<u8>, Error> {
    let key = rsa::pkcs1::RsaPublicKey {
        modulus: der::asn1::UintRef::new(n).map_err(|e| Error::Internal(e.to_string()))?,
        public_exponent: der::asn1::UintRef::new(e).map_err(|e| Error::Internal(e.to_string()))?,
    };
    key.to_der().map_err(|e| Error::Internal(e.to_string()))
}
