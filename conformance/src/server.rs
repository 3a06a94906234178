//! The server under test as a run reaches it: one client and the admin's
//! credentials, for the run's own requests (pre-flight, setup, clean-up) and the
//! recorded requests of its cases.

use crate::answer::Answer;
use crate::client::{Api, Client, ClientSetupError, Format, Outgoing, SendError, Variant};
use crate::result::Exchange;
use std::time::Duration;

/// A user name and password.
pub(crate) type Credentials = (String, String);

/// The variant of the run's own requests.
const OWN: Variant = Variant {
    api: Api::V1,
    format: Format::Xml,
};

pub(crate) struct Server {
    client: Client,
    admin: Credentials,
}

impl Server {
    pub(crate) fn new(
        base_url: &str,
        timeout: Duration,
        admin: Credentials,
    ) -> Result<Server, ClientSetupError> {
        Ok(Server {
            client: Client::new(base_url, timeout)?,
            admin,
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        self.client.base_url()
    }

    pub(crate) fn admin(&self) -> &Credentials {
        &self.admin
    }

    /// Sends one of the run's own requests as the admin (v1, XML), its header
    /// saying what it is for (`preflight`, `cleanup`).
    pub(crate) async fn as_admin(
        &self,
        request: Outgoing,
        header: &str,
    ) -> Result<Answer, SendError> {
        let request = request.as_user((self.admin.0.as_str(), self.admin.1.as_str()));
        let (answer, _) = self.client.send(&request, OWN, header).await?;
        Ok(answer)
    }

    /// Sends one request of a case and records it in `exchanges`, its time in
    /// `server_time`.
    pub(crate) async fn exchange(
        &self,
        outgoing: &Outgoing,
        variant: Variant,
        header: &str,
        exchanges: &mut Vec<Exchange>,
        server_time: &mut Duration,
    ) -> Result<Answer, SendError> {
        let (answer, took) = self.client.send(outgoing, variant, header).await?;
        *server_time += took;
        exchanges.push(Exchange {
            request: outgoing.line(variant),
            answer: answer.describe(),
            server_time_ms: took.as_secs_f64() * 1000.0,
        });
        Ok(answer)
    }
}
