//! `authbridge twofactorauth ...`: the arguments (occ's `twofactorauth:*`, and
//! enrolment, which occ leaves to the web page).

use clap::Subcommand;

#[derive(Subcommand)]
pub enum TwoFactorCommand {
    /// Remove every user's data of a provider (occ: after uninstalling it)
    Cleanup {
        #[arg(value_name = "PROVIDER-ID")]
        provider_id: String,
    },
    /// Disable a provider for a user; its data is deleted (a lost phone's
    /// TOTP secret never works again)
    Disable { uid: String, provider_id: String },
    /// Enable a provider for a user: totp gets a new secret (printed once, with
    /// its otpauth:// URI and a QR code), backup_codes ten new codes
    Enable { uid: String, provider_id: String },
    /// Enforce two-factor authentication for everybody (--on), for groups
    /// (--group, repeatable) or for everybody but some (--exclude), or stop
    /// (--off); without options, show the state
    Enforce {
        /// Enforce two-factor authentication
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Do not enforce two-factor authentication
        #[arg(long)]
        off: bool,
        /// Enforce only for members of this group (repeatable)
        #[arg(long, value_name = "GROUP", requires = "on")]
        group: Vec<String>,
        /// Do not enforce for members of this group (repeatable; ignored when
        /// --group names groups, as in Nextcloud)
        #[arg(long, value_name = "GROUP", requires = "on")]
        exclude: Vec<String>,
    },
    /// Show whether a user has two-factor authentication, and its providers
    State { uid: String },
    /// TOTP (authenticator apps)
    Totp {
        #[command(subcommand)]
        command: TotpCommand,
    },
    /// Backup codes (single use, for when the phone is not at hand)
    #[command(name = "backup-codes")]
    BackupCodes {
        #[command(subcommand)]
        command: BackupCodesCommand,
    },
}

#[derive(Subcommand)]
pub enum TotpCommand {
    /// Give a user a TOTP secret, enabled at once: prints the otpauth:// URI, the
    /// secret and a QR code to scan, once
    Setup {
        uid: String,
        /// Replace a secret the user already has (the old one stops working)
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
pub enum BackupCodesCommand {
    /// Print ten new backup codes for a user, once; the old ones stop working
    Generate { uid: String },
}
