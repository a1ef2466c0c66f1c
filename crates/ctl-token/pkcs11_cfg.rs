// Shared by the build scripts of ctl-token and ctl-cli (`include!`): which PKCS#11
// implementation the token tests run on (`CTL_TEST_PKCS11`: softhsm, the default, or
// tpm2) and whether its module is installed.
//
// - `cfg(pkcs11)`: the module under test is installed (`CTL_TEST_PKCS11_MODULE`, else the
//   implementation's Debian path); the token tests run;
// - `cfg(pkcs11_backend = "softhsm" | "tpm2")`: which implementation, for the tests of what
//   only one of them can do (a SoftHSM2 token can be pulled out by removing its files);
// - `cfg(softhsm)`: `pkcs11` on SoftHSM2 (ctl-cli's tests hand SOFTHSM2_CONF to `ctl`).
//
// `CTL_REQUIRE_TOKENS=1` (set by scripts/test) makes a missing module a build error: the
// token tests never skip there.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pkcs11)");
    println!("cargo::rustc-check-cfg=cfg(softhsm)");
    println!("cargo::rustc-check-cfg=cfg(pkcs11_backend, values(\"softhsm\", \"tpm2\"))");
    println!("cargo::rerun-if-env-changed=CTL_TEST_PKCS11");
    println!("cargo::rerun-if-env-changed=CTL_TEST_PKCS11_MODULE");
    println!("cargo::rerun-if-env-changed=CTL_REQUIRE_TOKENS");
    let backend = std::env::var("CTL_TEST_PKCS11").unwrap_or_default();
    let (backend, default) = match backend.as_str() {
        "" | "softhsm" => ("softhsm", "/usr/lib/softhsm/libsofthsm2.so"),
        "tpm2" => ("tpm2", "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"),
        other => panic!(
            "CTL_TEST_PKCS11={} names no PKCS#11 implementation of the suite (softhsm, tpm2)",
            other.escape_debug()
        ),
    };
    let module = std::env::var_os("CTL_TEST_PKCS11_MODULE")
        .map_or_else(|| std::path::PathBuf::from(default), std::path::PathBuf::from);
    println!("cargo::rerun-if-changed={}", module.display());
    println!("cargo::rustc-cfg=pkcs11_backend=\"{backend}\"");
    if module.exists() {
        println!("cargo::rustc-cfg=pkcs11");
        if backend == "softhsm" {
            println!("cargo::rustc-cfg=softhsm");
        }
    } else if std::env::var_os("CTL_REQUIRE_TOKENS").is_some_and(|v| v == "1") {
        panic!(
            "CTL_REQUIRE_TOKENS=1 but there is no {backend} PKCS#11 module at {}",
            module.display()
        );
    }
}
