//! The SMB child process of authbridge (see `authbridge_smb::child_main`). Not meant
//! to be run by hand: it reads binary request frames on stdin.

fn main() {
    std::process::exit(authbridge_smb::child_main());
}
