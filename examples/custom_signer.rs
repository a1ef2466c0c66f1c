//! A signer behind your own service: the `Signer` trait is all the builders need, so a
//! key held by a signing service (a KMS, an HSM behind an API, another process) signs
//! trust lists like a token does. Here the "service" is a thread that holds the key and
//! answers requests over a channel; a service that answers with a wrong signature is
//! caught before any file is written.
//!
//! Run: `cargo run -p ctl-examples --example custom_signer`

use std::error::Error;
use std::sync::Mutex;
use std::sync::mpsc;

use ctl_examples::{certificate, keys, now};
use ctl_format::{
    BuildError, DigestAlgorithm, RecordSpec, Role, RsaVerifier, Signer, SignerError,
    TrustListBuilder, parse_trust_list,
};

/// A request to the service: what to sign, and where to answer.
type Request = (
    DigestAlgorithm,
    Vec<u8>,
    mpsc::Sender<Result<Vec<u8>, String>>,
);

/// The client side: the certificate, and the way to the service.
struct RemoteSigner {
    cert: Vec<u8>,
    service: Mutex<mpsc::Sender<Request>>,
}

impl Signer for RemoteSigner {
    fn certificate(&self) -> &[u8] {
        &self.cert
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let (answer, answered) = mpsc::channel();
        self.service
            .lock()
            .map_err(|_| SignerError::from("the signing service is gone"))?
            .send((digest, message.to_vec(), answer))
            .map_err(|_| SignerError::from("the signing service is gone"))?;
        answered
            .recv()
            .map_err(|_| SignerError::from("the signing service did not answer"))?
            .map_err(SignerError::from)
    }
}

/// Starts a "service" that signs with the key of `key_file` (PEM); `tamper` flips a bit
/// of every signature, as a broken or hostile service would.
fn service(key_file: &str, tamper: bool) -> Result<mpsc::Sender<Request>, Box<dyn Error>> {
    let key = ctl_token::SoftwareSigner::from_files(&keys().join(key_file), None)?;
    let (tx, rx) = mpsc::channel::<Request>();
    std::thread::spawn(move || {
        for (digest, message, answer) in rx {
            let signed = key.sign(digest, &message).map(|mut s| {
                if tamper && let Some(b) = s.last_mut() {
                    *b ^= 1;
                }
                s
            });
            let _ = answer.send(signed.map_err(|e| e.to_string()));
        }
    });
    Ok(tx)
}

fn main() -> Result<(), Box<dyn Error>> {
    let list = || -> Result<TrustListBuilder, Box<dyn Error>> {
        let mut b = TrustListBuilder::new();
        b.timestamp(now()?);
        b.push(RecordSpec::new(certificate("sast1")?, Role::SAST));
        b.push(RecordSpec::new(certificate("sast2")?, Role::SAST));
        b.push(RecordSpec::new(certificate("ccm")?, Role::CCM_TFTP));
        Ok(b)
    };
    let remote = RemoteSigner {
        cert: certificate("sast1")?.der().to_vec(),
        service: Mutex::new(service("sast1.pem", false)?),
    };
    let bytes = list()?.build(&remote)?;
    parse_trust_list(&bytes)?.verify(&RsaVerifier)?;
    println!(
        "signed by the service: a CTL of {} bytes that verifies",
        bytes.len()
    );

    let broken = RemoteSigner {
        cert: certificate("sast1")?.der().to_vec(),
        service: Mutex::new(service("sast1.pem", true)?),
    };
    match list()?.build(&broken) {
        Err(e @ BuildError::SignatureDoesNotVerify(_)) => {
            println!("a service answering with a wrong signature is caught: {e}");
        }
        other => return Err(format!("a wrong signature was not caught: {other:?}").into()),
    }
    Ok(())
}
