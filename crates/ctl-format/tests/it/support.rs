//! A software signer over the vector keys, for tests only (ctl-token has the real one).

use ctl_format::{Certificate, DigestAlgorithm, Signer, SignerError};
use rsa::pkcs8::DecodePrivateKey as _;

use crate::vectors::vector;

pub(crate) struct KeySigner {
    key: rsa::PrivateKey,
    cert: Vec<u8>,
}

impl KeySigner {
    pub(crate) fn vector(name: &str) -> Self {
        let pem = String::from_utf8(vector(&format!("keys/{name}.key.pem"))).unwrap();
        Self {
            key: rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap(),
            cert: vector(&format!("keys/{name}.crt.der")),
        }
    }
}

impl KeySigner {
    pub(crate) fn from_parts(key: rsa::PrivateKey, cert: Vec<u8>) -> Self {
        Self { key, cert }
    }
}

impl Signer for KeySigner {
    fn certificate(&self) -> &[u8] {
        &self.cert
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(match digest {
            DigestAlgorithm::Sha1 => self.key.pkcs1v15_sign::<sha1::Sha1>(message)?,
            DigestAlgorithm::Sha256 => self.key.pkcs1v15_sign::<sha2::Sha256>(message)?,
            _ => self.key.pkcs1v15_sign::<sha2::Sha512>(message)?,
        })
    }
}

pub(crate) fn cert(name: &str) -> Certificate {
    Certificate::from_der(&vector(&format!("keys/{name}.crt.der"))).unwrap()
}
