use std::path::PathBuf;

/// The management key used when none is given; printed at start so demos can call the API.
pub const DEFAULT_MANAGEMENT_KEY: &str = "emu_mgmt_demo_key";

#[derive(Clone, Debug)]
pub struct Config {
    pub app_id: String,
    pub management_key: String,
    /// Start like a new Prelude account: no login or step-up configuration.
    pub bare: bool,
    /// Every OTP is this code (demos).
    pub fixed_code: Option<String>,
    /// Keep the state across restarts.
    pub state_file: Option<PathBuf>,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub otp_ttl_secs: i64,
    pub max_wrong_attempts: u32,
    pub resend_cooldown_secs: i64,
    pub dpop_window_secs: i64,
    pub session_start_ttl_secs: i64,
    /// Print each "sent" code to the log. The standalone binary does; an app embedding the
    /// emulator turns it off so codes stay out of its log files.
    pub log_codes: bool,
    /// Serve HTTPS with a self-signed certificate made at start.
    pub tls: bool,
    /// Where to write that certificate (PEM), so clients can trust it.
    pub cert_out: Option<PathBuf>,
    /// Serve the files of this folder under `/web/`, same-origin with the API, as a customer's
    /// site on its custom domain would be (to demo the web SDK).
    pub web_root: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            app_id: "demo".to_owned(),
            management_key: DEFAULT_MANAGEMENT_KEY.to_owned(),
            bare: false,
            fixed_code: None,
            state_file: None,
            // The real service was seen minting 60 s access tokens (PROTOCOL.md §9).
            access_ttl_secs: 60,
            refresh_ttl_secs: 30 * 86_400,
            otp_ttl_secs: 600,
            max_wrong_attempts: 5,
            resend_cooldown_secs: 30,
            dpop_window_secs: 300,
            session_start_ttl_secs: 300,
            log_codes: true,
            tls: false,
            cert_out: None,
            web_root: None,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), crate::Error> {
        let ok_id = !self.app_id.is_empty()
            && self.app_id.len() <= 63
            && self
                .app_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok_id {
            return Err(crate::Error::Config(format!(
                "app id {:?} must be 1-63 letters, digits or dashes",
                self.app_id
            )));
        }
        if let Some(code) = &self.fixed_code
            && (!(4..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(crate::Error::Config(
                "the fixed code must be 4 to 8 digits".to_owned(),
            ));
        }
        if self.management_key.trim().is_empty() {
            return Err(crate::Error::Config(
                "the management key must not be empty".to_owned(),
            ));
        }
        Ok(())
    }
}
