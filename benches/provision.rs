//! Provisioning a large site against bare RSA signatures on the same cores, in one run.
//!
//! 10,000 phones (`PHONES=N` for another number): each gets `ITLSEP<MAC>.tlv`,
//! `CTLSEP<MAC>.tlv` and its signed `SEP<MAC>.cnf.xml.sgn`, from a manifest with the
//! test-vector keys (software, RSA 2048, SHA-1), into an empty directory. The baseline is
//! the same number of RSA signatures of messages of the configs' size, spread over the
//! same threads: the signing a run cannot avoid. Target: provision <= 1.2 x baseline.
//! Then one config is edited and the run repeated: only that file is signed again, the
//! rest is checked (one RSA verification per `.sgn`). Target: under 1 s.
//!
//! Run: `cargo bench -p ctl-benches --bench provision`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::time::{Duration, Instant};

use ctl_format::{DigestAlgorithm, Signer as _};
use ctl_site::{Manifest, Options, provision};
use ctl_test_support::report::{self, Target};

fn config(mac: &str) -> String {
    // About the size of a real SEP<MAC>.cnf.xml of an open call server (~2 KB).
    format!(
        "<device><deviceProtocol>SIP</deviceProtocol><devicePool><callManagerGroup>\
         <members><member priority=\"0\"><callManager><name>pbx</name><ports>\
         <sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports>\
         <processNodeName>pbx.example.com</processNodeName></callManager></member></members>\
         </callManagerGroup></devicePool><sipProfile><sipLines><line button=\"1\">\
         <featureLabel>{mac}</featureLabel><name>{mac}</name><authName>{mac}</authName>\
         </line></sipLines></sipProfile>{}<loadInformation></loadInformation></device>\n",
        "<vendorConfig><!-- padding as in real files --></vendorConfig>".repeat(24)
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let phones: usize = std::env::var("PHONES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let tmp = tempfile::tempdir().unwrap();
    let configs = tmp.path().join("configs");
    fs::create_dir(&configs).unwrap();
    let macs: Vec<String> = (0..phones).map(|i| format!("00AA{i:08X}")).collect();
    let mut csv = String::from("mac,name\n");
    for mac in &macs {
        fs::write(configs.join(format!("SEP{mac}.cnf.xml")), config(mac)).unwrap();
        csv.push_str(&format!("{mac},phone\n"));
    }
    fs::write(tmp.path().join("phones.csv"), csv).unwrap();
    let keys = ctl_test_support::keys();
    fs::write(
        tmp.path().join("trust.toml"),
        format!(
            "out = \"tftp\"\nconfigs = \"configs\"\n\
             sast = [\"{k}/sast1.pem\", \"{k}/sast2.pem\"]\ntftp = \"{k}/tftp.pem\"\n\
             lists = [\"itl\", \"ctl\"]\ndevices_csv = \"phones.csv\"\nsign = [\"SEP*.cnf.xml\"]\n\
             [[server]]\ncert = \"{k}/ccm.crt.pem\"\nrole = \"ccm\"\ndns = \"pbx.example.com\"\n",
            k = keys.display()
        ),
    )
    .unwrap();
    let manifest = Manifest::load(&tmp.path().join("trust.toml")).unwrap();
    let now = 1_767_225_600;

    // Baseline: the signatures alone, on the same threads.
    let signer = ctl_token::SoftwareSigner::from_files(&keys.join("tftp.pem"), None).unwrap();
    let message = config(&macs[0]).into_bytes();
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (signer, message) = (&signer, &message);
            s.spawn(move || {
                for _ in (t..phones).step_by(threads) {
                    signer.sign(DigestAlgorithm::Sha1, message).unwrap();
                }
            });
        }
    });
    let baseline = start.elapsed();

    let start = Instant::now();
    let first = provision(&manifest, &Options::new(now)).unwrap();
    let full = start.elapsed();
    assert_eq!(first.changes.len(), 3 * phones + 2, "every file created");

    fs::write(
        configs.join(format!("SEP{}.cnf.xml", macs[phones / 2])),
        config("edited"),
    )
    .unwrap();
    let start = Instant::now();
    let again = provision(&manifest, &Options::new(now + 60)).unwrap();
    let rerun = start.elapsed();
    assert_eq!(
        again.changes.len(),
        1,
        "only the edited config is signed again"
    );

    report::figure("provision.phones", "phones", phones as f64, 0, "", None);
    report::figure(
        "provision.baseline",
        "one bare RSA-2048 signature per phone, on every core",
        ms(baseline),
        0,
        "ms",
        None,
    );
    report::figure(
        "provision.files",
        "files the first run writes",
        first.changes.len() as f64,
        0,
        "",
        None,
    );
    report::figure(
        "provision.full",
        "the first run, into an empty directory",
        ms(full),
        0,
        "ms",
        None,
    );
    report::ratio(
        "provision.ratio",
        "the first run / the bare signatures",
        full.as_secs_f64() / baseline.as_secs_f64(),
        Some(Target::AtMost(1.2)),
    );
    report::figure(
        "provision.rerun",
        "a re-run with one config edited (one file signed)",
        ms(rerun),
        0,
        "ms",
        Some(Target::Below(1000.0)),
    );
}
