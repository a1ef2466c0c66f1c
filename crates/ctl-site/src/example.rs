//! The commented manifest `ctl provision --init` writes.

/// A manifest for a small site: software keys beside it, the TFTP root in `tftp/`.
pub const EXAMPLE: &str = r#"# ctl provision: the trust lists and signed configuration files of one site.
# Paths are relative to this file. `ctl provision --init` made the keys named here.

# The directory the TFTP server serves (phones fetch ITLFile.tlv, SEP<MAC>.cnf.xml.sgn, ...).
out = "tftp"
# configs = "/etc/asterisk/phones"   # where the files to sign are (default: out)

# Two or more SAST signers (up to four): PEM files (certificate and key) or pkcs11: URIs
# of token keys. The first signs the lists; keep the second offline, it signs the next
# lists if the first is lost.
sast = ["keys/sast1.pem", "keys/sast2.pem"]
# The key that signs configuration files; its certificate goes into the lists as TFTP.
tftp = "keys/tftp.pem"

lists = ["itl"]                      # add "ctl" for mixed mode (encrypted signalling)
sign = ["SEP*.cnf.xml"]              # also dial plans, soft keys, ring lists, locales
# devices = ["00:11:22:33:44:55"]    # per-device ITLSEP<MAC>.tlv; or devices_csv = "phones.csv"
# digest = "sha1"                    # sha512 for firmware that knows it
# signer_version = "1.1"             # for EC records or HTTPS provisioning

# The call server's TLS certificate, which phones check on SIP over TLS:
# [[server]]
# cert = "/etc/asterisk/keys/asterisk.crt"
# role = "ccm"                       # ccm, ccm+tftp, tftp, capf, tvs, app-server
# dns = "pbx.example.com"
# ip = "192.0.2.10"
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_example_is_a_valid_manifest_with_the_keys_beside_it() {
        let m = crate::Manifest::parse(std::path::Path::new("/site/trust.toml"), EXAMPLE).unwrap();
        assert_eq!(m.out, std::path::Path::new("/site/tftp"));
        assert_eq!(m.sast.len(), 2);
        assert!(m.itl && !m.ctl);
        let lines = EXAMPLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .count();
        assert!(lines <= 15, "{lines} lines of settings");
    }
}
