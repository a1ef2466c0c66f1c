
fn main() {
    println!("cargo::rustc-check-cfg=cfg(softhsm)");
    println!("cargo::rerun-if-env-changed=CTL_TEST_PKCS11_MODULE");
    println!("cargo::rerun-if-env-changed=CTL_REQUIRE_SOFTHSM");
    let module = std::env::var_os("CTL_TEST_PKCS11_MODULE").map_or_else(
        || std::path::PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
        std::path::PathBuf::from,
    );
    println!("cargo::rerun-if-changed={}", module.display());
    if module.exists() {
        println!("cargo::rustc-cfg=softhsm");
    } else if std::env::var_os("CTL_REQUIRE_SOFTHSM").is_some_and(|v| v == "1") {
        panic!(
            "CTL_REQUIRE_SOFTHSM=1 but there is no SoftHSM2 module at {}",
            module.display()
        );
    }
}
