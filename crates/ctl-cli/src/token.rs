//! `ctl token`: list, inspect, change the PIN of, and (for labs) create PKCS#11 tokens.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use ctl_format::{format_utc, hex};
use ctl_token::pkcs11::{self, Module, Token, lab, pin};
use ctl_token::{Pkcs11Uri, SoftwareSigner};
use secrecy::SecretString;
use serde::Serialize;

use crate::failure::{Failure, Outcome};

/// `ctl token` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Every token in every slot: label, serial, manufacturer, model, flags, keys and certificates.
    List(ListArgs),
    /// One token, selected by a pkcs11: URI (with a PIN in the URI, private keys are listed too).
    Info(InfoArgs),
    /// Write the certificate on a token as PEM (no PIN needed).
    Export(TokenExportArgs),
    /// Change a token's user PIN (C_SetPIN).
    ChangePin(ChangePinArgs),
    /// For labs: create a token (SoftHSM2 and other modules that allow it) and put a key on it.
    Init(Box<InitArgs>),
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// The PKCS#11 module (default: CTL_PKCS11_MODULE, else every well-known module present).
    #[arg(long, value_name = "PATH")]
    module: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct InfoArgs {
    /// pkcs11:token=...;serial=...?module-path=...&pin-source=...
    uri: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct TokenExportArgs {
    /// The token and its certificate: pkcs11:token=...;object=...?module-path=...
    uri: String,
    /// Where to write the PEM (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ChangePinArgs {
    /// The token; the current PIN comes from its pin-value or pin-source, or is asked.
    uri: String,
    /// A file holding the new PIN (default: asked twice on the terminal).
    #[arg(long, value_name = "FILE")]
    new_pin_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct InitArgs {
    /// The PKCS#11 module.
    #[arg(long, value_name = "PATH")]
    module: PathBuf,
    /// The new token's label.
    #[arg(long)]
    label: String,
    /// A file holding the security officer PIN to set.
    #[arg(long, value_name = "FILE")]
    so_pin_file: PathBuf,
    /// A file holding the user PIN to set.
    #[arg(long, value_name = "FILE")]
    pin_file: PathBuf,
    /// Generate an RSA key on the token, with a self-signed certificate signed on it.
    #[arg(long, conflicts_with = "import_key")]
    generate: bool,
    /// Common name of the generated certificate (default: the label).
    #[arg(long, value_name = "CN", requires = "generate")]
    common_name: Option<String>,
    /// Key size of the generated key.
    #[arg(long, default_value_t = 2048, requires = "generate")]
    bits: usize,
    /// Import this RSA key (PEM, PKCS#8 or PKCS#1; with its certificate, or see --import-cert).
    #[arg(long, value_name = "PEM")]
    import_key: Option<PathBuf>,
    /// The certificate of --import-key, when it is not in the same file.
    #[arg(long, value_name = "PEM", requires = "import_key")]
    import_cert: Option<PathBuf>,
    /// CKA_ID of the key and certificate, hex.
    #[arg(long, default_value = "01")]
    id: String,
    /// CKA_LABEL of the key and certificate (default: the token label).
    #[arg(long)]
    object: Option<String>,
}

#[derive(Serialize)]
struct ObjectJson {
    label: String,
    id: String,
    key_type: Option<String>,
    key_bits: Option<usize>,
    /// `null` when unknown: without a login, a token shows no private key.
    has_private_key: Option<bool>,
    has_public_key: bool,
    certificate: Option<CertJson>,
    uri: String,
}

#[derive(Serialize)]
struct CertJson {
    subject: String,
    serial: String,
    not_after: u64,
}

#[derive(Serialize)]
struct FlagsJson {
    login_required: bool,
    user_pin_initialized: bool,
    user_pin_count_low: bool,
    user_pin_final_try: bool,
    user_pin_locked: bool,
    user_pin_to_be_changed: bool,
    write_protected: bool,
    protected_authentication_path: bool,
}

#[derive(Serialize)]
struct TokenJson {
    module: String,
    slot_id: u64,
    label: String,
    serial: String,
    manufacturer: String,
    model: String,
    flags: FlagsJson,
    uri: String,
    objects: Vec<ObjectJson>,
}

fn describe(token: &mut Token, pin: Option<&SecretString>) -> Result<TokenJson, Failure> {
    let objects = token
        .list_objects(pin)?
        .into_iter()
        .map(|e| {
            let cert = e
                .certificate
                .as_deref()
                .and_then(|d| ctl_format::Certificate::from_der(d).ok());
            let mut uri = token.uri();
            uri.object = Some(e.label.clone());
            uri.id = Some(e.id.clone());
            ObjectJson {
                label: e.label.clone(),
                id: hex(&e.id),
                key_type: e.key_type.clone(),
                key_bits: e.key_bits,
                // Private keys are hidden until a login: not seeing one without a PIN
                // says nothing.
                has_private_key: (e.has_private_key() || pin.is_some())
                    .then(|| e.has_private_key()),
                has_public_key: e.has_public_key,
                certificate: cert.map(|c| CertJson {
                    subject: c.subject_text(ctl_format::NameStyle::Reversed),
                    serial: hex(c.serial()),
                    not_after: c.not_after(),
                }),
                uri: uri.to_string(),
            }
        })
        .collect();
    let s = token.summary();
    let f = s.flags;
    Ok(TokenJson {
        module: s.module.display().to_string(),
        slot_id: s.slot_id,
        label: s.label.clone(),
        serial: s.serial.clone(),
        manufacturer: s.manufacturer.clone(),
        model: s.model.clone(),
        flags: FlagsJson {
            login_required: f.login_required,
            user_pin_initialized: f.user_pin_initialized,
            user_pin_count_low: f.user_pin_count_low,
            user_pin_final_try: f.user_pin_final_try,
            user_pin_locked: f.user_pin_locked,
            user_pin_to_be_changed: f.user_pin_to_be_changed,
            write_protected: f.write_protected,
            protected_authentication_path: f.protected_authentication_path,
        },
        uri: token.uri().to_string(),
        objects,
    })
}

fn print_tokens(tokens: &[TokenJson], json: bool) {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(tokens).unwrap_or_default()
        );
        return;
    }
    if tokens.is_empty() {
        outln!("no tokens");
    }
    for t in tokens {
        outln!(
            "{} (serial {}, {} {}, slot {} of {})",
            t.label,
            t.serial,
            t.manufacturer,
            t.model,
            t.slot_id,
            t.module
        );
        let f = &t.flags;
        let mut flags = Vec::new();
        for (on, name) in [
            (f.user_pin_locked, "PIN LOCKED"),
            (f.user_pin_final_try, "PIN final try"),
            (f.user_pin_count_low, "PIN count low"),
            (f.user_pin_to_be_changed, "PIN must be changed"),
            (!f.user_pin_initialized, "no user PIN"),
            (f.write_protected, "write-protected"),
        ] {
            if on {
                flags.push(name);
            }
        }
        if !flags.is_empty() {
            outln!("  flags: {}", flags.join(", "));
        }
        outln!("  uri:   {}", t.uri);
        for o in &t.objects {
            let key = match (&o.key_type, o.key_bits) {
                (Some(k), Some(b)) => format!("{k}-{b}"),
                (Some(k), None) => k.clone(),
                _ => "no key".to_owned(),
            };
            let private = match o.has_private_key {
                Some(true) => ", private key",
                Some(false) => ", no private key",
                None => ", private key unknown until a login",
            };
            match &o.certificate {
                Some(c) => outln!(
                    "  - \"{}\" id {}: {key}{private}; certificate {} serial {} until {} UTC",
                    o.label.escape_debug(),
                    o.id,
                    c.subject,
                    c.serial,
                    format_utc(c.not_after)
                ),
                None => outln!(
                    "  - \"{}\" id {}: {key}{private}; no certificate",
                    o.label.escape_debug(),
                    o.id
                ),
            }
        }
    }
}

pub(crate) fn run(command: &TokenCommand) -> Outcome {
    match command {
        TokenCommand::Export(a) => {
            let cert = crate::signing::certificate(&a.uri)?;
            let what = format!(
                "the certificate {}",
                cert.subject_text(ctl_format::NameStyle::Reversed)
            );
            crate::cert::write_pem(a.out.as_deref(), cert.der(), &what)
        }
        TokenCommand::List(a) => {
            let modules = match &a.module {
                Some(p) => vec![Module::load(p)?],
                None => Module::defaults()?,
            };
            let mut tokens = pkcs11::list_tokens(&modules)?;
            let described = tokens
                .iter_mut()
                .map(|t| describe(t, None))
                .collect::<Result<Vec<_>, _>>()?;
            print_tokens(&described, a.json);
            Ok(())
        }
        TokenCommand::Info(a) => {
            let uri: Pkcs11Uri = a.uri.parse().map_err(|e: ctl_token::UriError| {
                Failure::usage(format!("{}: {e}", ctl_token::redact_uri_text(&a.uri)))
            })?;
            let mut token = pkcs11::select_token(&uri)?;
            let has_pin = uri.pin_value.is_some() || uri.pin_source.is_some();
            let pin = if has_pin {
                Some(pin::resolve(&uri, None, &token.summary().label, false)?)
            } else {
                None
            };
            let described = describe(&mut token, pin.as_ref())?;
            print_tokens(&[described], a.json);
            Ok(())
        }
        TokenCommand::ChangePin(a) => {
            let uri: Pkcs11Uri = a.uri.parse().map_err(|e: ctl_token::UriError| {
                Failure::usage(format!("{}: {e}", ctl_token::redact_uri_text(&a.uri)))
            })?;
            let new = match &a.new_pin_file {
                Some(p) => pin::read_pin_file(p)?,
                None => ask_new_pin()?,
            };
            pin::change_pin(&uri, None, &new)?;
            outln!(
                "PIN changed on {}",
                uri.token.as_deref().unwrap_or("the token")
            );
            Ok(())
        }
        TokenCommand::Init(a) => init(a),
    }
}

fn ask_new_pin() -> Result<SecretString, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "no new PIN: give --new-pin-file, or run on a terminal to be asked",
        ));
    }
    use secrecy::ExposeSecret as _;
    let first = pin::prompt("New PIN: ")?;
    let second = pin::prompt("New PIN again: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Failure::usage("the two new PINs differ; nothing changed"));
    }
    Ok(first)
}

fn parse_id(text: &str) -> Result<Vec<u8>, Failure> {
    let bad = || {
        Failure::usage(format!(
            "--id {text}: expected hex bytes such as 01 or a1b2"
        ))
    };
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn init(a: &InitArgs) -> Outcome {
    let module = Module::load(&a.module)?;
    let so = pin::read_pin_file(&a.so_pin_file)?;
    let user = pin::read_pin_file(&a.pin_file)?;
    let id = parse_id(&a.id)?;
    let object = a.object.clone().unwrap_or_else(|| a.label.clone());
    if !a.generate && a.import_key.is_none() {
        return Err(Failure::usage(
            "token init: give --generate or --import-key",
        ));
    }
    // The format names the signer's key size with a code for 512, 1024, 2048 and 4096
    // bits only: another size could never sign a CTL (checked before the token exists).
    if a.generate {
        signing_key_size(a.bits, "--bits")?;
    }
    // Check the key before creating the token, so a bad key leaves nothing behind.
    let import = match &a.import_key {
        Some(key) => {
            let (k, c) = load_key_and_cert(key, a.import_cert.as_deref())?;
            let bits = rsa::traits::PublicKeyParts::size(&k) * 8;
            signing_key_size(bits, &key.display().to_string())?;
            Some((k, c))
        }
        None => None,
    };
    let mut token = lab::init_token(&module, &a.label, &so, &user)?;
    let cert = match import {
        Some((key, cert)) => {
            lab::import_rsa_key(&mut token, &user, &key, &id, &object)?;
            lab::import_certificate(&mut token, &user, &cert, &id, &object)?;
            cert
        }
        None => {
            let cn = a.common_name.clone().unwrap_or_else(|| a.label.clone());
            lab::generate_rsa_key(&mut token, &user, a.bits, &cn, &id, &object)?
        }
    };
    let subject = ctl_format::Certificate::from_der(&cert)
        .map(|c| c.subject_text(ctl_format::NameStyle::Reversed))
        .unwrap_or_default();
    let mut uri = token.uri();
    uri.object = Some(object);
    outln!("created token {} with {subject}", token.summary());
    outln!("uri: {uri}");
    Ok(())
}

/// Whether a key of `bits` can sign a CTL: the format has a code for 512, 1024, 2048
/// and 4096 bits, and 512 is far too weak; 1024 is allowed with a warning (labs).
fn signing_key_size(bits: usize, what: &str) -> Result<(), Failure> {
    match bits {
        2048 | 4096 => Ok(()),
        1024 => {
            errln!(
                "warning: {what}: a 1024-bit key is weak; keep it for labs (phones take 1024 to 4096 bits, the 7900 series at most 2048)"
            );
            Ok(())
        }
        512 => Err(Failure::usage(format!(
            "token init: {what}: a 512-bit key is far too weak to sign a trust list"
        ))),
        other => Err(Failure::usage(format!(
            "token init: {what}: a {other}-bit key can never sign a CTL (the format has codes for 1024, 2048 and 4096-bit keys only)"
        ))),
    }
}

fn load_key_and_cert(
    key: &Path,
    cert: Option<&Path>,
) -> Result<(rsa::PrivateKey, Vec<u8>), Failure> {
    let signer =
        SoftwareSigner::from_files(key, cert).map_err(|e| Failure::usage(e.to_string()))?;
    let cert = ctl_format::Signer::certificate(&signer).to_vec();
    Ok((signer.into_key(), cert))
}
