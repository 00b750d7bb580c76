//! Why this computer's authenticator refused, with the stable code the UI reads.

/// Why this computer's authenticator refused, with stable codes for the UI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticatorError {
    /// The keyring failed, or secrets are kept in memory this run: a passkey that dies at exit
    /// would leave an orphan on the server, so none is made.
    #[error("the system keyring is unavailable: {0}")]
    Keyring(String),
    #[error("a PIN is 6 to 32 digits")]
    PinPolicy,
    #[error("a PIN is already set; change it with the old one")]
    PinAlreadySet,
    #[error("no PIN is set on this computer")]
    PinNotSet,
    #[error("enter your Countersign PIN")]
    PinRequired,
    #[error("wrong PIN; {tries_left} tries left before this computer's passkeys are blocked")]
    WrongPin { tries_left: u32 },
    #[error("too many wrong PINs: this computer's passkeys are blocked until the PIN is reset")]
    PinBlocked,
    #[error("no passkey for this account is on this computer")]
    NoPasskeyHere,
    #[error(
        "the server asked for a passkey of {asked}, but this server's passkeys are for {pinned}"
    )]
    WrongRp { asked: String, pinned: String },
    #[error("the approval was not confirmed on this computer")]
    NoUserPresence,
    #[error("the server offers no algorithm this computer signs with (ES256)")]
    Unsupported,
    #[error("a stored passkey is damaged: {0}")]
    Damaged(String),
    /// An RP ID or origin typed in Settings that cannot be used.
    #[error("{0}")]
    InvalidSetting(String),
}

impl AuthenticatorError {
    /// A stable snake_case code.
    pub fn code(&self) -> crate::codes::ErrorCode {
        use crate::codes::AppCode as A;
        crate::codes::ErrorCode::App(match self {
            Self::Keyring(_) => A::KeyringUnavailable,
            Self::PinPolicy => A::PinPolicy,
            Self::PinAlreadySet => A::PinAlreadySet,
            Self::PinNotSet => A::PinNotSet,
            Self::PinRequired => A::PinRequired,
            Self::WrongPin { .. } => A::WrongPin,
            Self::PinBlocked => A::PinBlocked,
            Self::NoPasskeyHere => A::NoPasskeyHere,
            Self::WrongRp { .. } => A::PasskeyWrongRp,
            Self::NoUserPresence => A::NoUserPresence,
            Self::Unsupported => A::PasskeyUnsupported,
            Self::Damaged(_) => A::PasskeyDamaged,
            Self::InvalidSetting(_) => A::InvalidInput,
        })
    }
}
