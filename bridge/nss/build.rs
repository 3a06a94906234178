// glibc loads NSS modules as libnss_NAME.so.2; the library says so itself.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnss_authbridge.so.2");
}
