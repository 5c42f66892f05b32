//! The server's key for web-form tokens (CSRF). It lives in the database beside the push keys,
//! so a token stays valid across restarts and on every instance.

use super::{Error, Result, Roster};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

const FORM_KEY: &str = "web_form_key";

impl Roster {
    async fn form_key(&self) -> Result<&hmac::Key> {
        self.form_key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut candidate)
                    .map_err(|_| Error::Internal(anyhow::anyhow!("no randomness for the form key")))?;
                let secret = self.store.server_key(FORM_KEY, &candidate).await?;
                Ok(hmac::Key::new(hmac::HMAC_SHA256, &secret))
            })
            .await
    }

    /// A MAC of `message` under the form key.
    pub async fn form_mac(&self, message: &[u8]) -> Result<Vec<u8>> {
        Ok(hmac::sign(self.form_key().await?, message).as_ref().to_vec())
    }

    /// Whether `tag` is the MAC of `message` (compared in constant time).
    pub async fn verify_form_mac(&self, message: &[u8], tag: &[u8]) -> Result<bool> {
        Ok(hmac::verify(self.form_key().await?, message, tag).is_ok())
    }
}
