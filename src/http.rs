//! The one way this program speaks HTTP: a current-thread runtime built
//! only when a request is needed, and a reqwest client on rustls (ring) that
//! follows no redirect and uses no proxy, so a secret goes to the URL it was
//! meant for and nowhere else. The platform's fetch and `status --probe`
//! share it; only the GitHub probes may add the `HTTPS_PROXY` proxy, for
//! https URLs (CONNECT keeps TLS end to end).

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

use crate::diag::debug;
use crate::secret::Secret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A current-thread runtime for one command's HTTP calls: one request at a
/// time needs no thread pool.
pub fn runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|runtime| Runtime(Some(runtime)))
        .context("cannot start the HTTP runtime")
}

/// A tokio runtime that does not wait, when dropped, for the threads it
/// started: a name lookup (`getaddrinfo`, which cannot be cancelled) runs
/// in one, and a resolver that never answers would otherwise hold the
/// command past its deadline (a plain runtime's drop joins it). The lookup
/// is left to end on its own; the process exits without it.
pub struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0
            .as_ref()
            .expect("the runtime lives until dropped")
            .block_on(future)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The one way this program builds an HTTP client (the platform's fetch and
/// `status --probe` share it): rustls with ring, redirects never followed
/// (a secret goes to the URL it was meant for and nowhere else), no proxy
/// whatever the environment says, a connect timeout within `timeout`, and
/// no TLS roots loaded at all when only plain http will be spoken.
pub fn client(https: bool, timeout: Duration) -> Result<reqwest::Client> {
    client_via(https, timeout, None)
}

/// The proxy `HTTPS_PROXY` (else `https_proxy`) names, for `https` URLs
/// only, minus the hosts `NO_PROXY` (else `no_proxy`) lists; `None` when
/// neither variable is set or both are empty. Through it a client sends
/// `CONNECT host:443` and keeps TLS end to end with the server, so the token
/// stays inside TLS; a plain `http` URL never goes through a proxy. An error
/// never quotes the variable's value (a proxy URL may carry a password).
pub fn https_proxy_from_env() -> Result<Option<reqwest::Proxy>> {
    let Some((name, value)) = ["HTTPS_PROXY", "https_proxy"].iter().find_map(|name| {
        let value = std::env::var(name).ok()?;
        (!value.trim().is_empty()).then_some((*name, value))
    }) else {
        return Ok(None);
    };
    let proxy = reqwest::Proxy::https(value.trim())
        .map_err(|_| anyhow::anyhow!("{name} is set but is not a proxy URL"))?;
    Ok(Some(proxy.no_proxy(reqwest::NoProxy::from_env())))
}

/// [`client`], with `proxy` (from [`https_proxy_from_env`]) for https URLs.
/// The platform's fetch never passes one.
pub fn client_via(
    https: bool,
    timeout: Duration,
    proxy: Option<reqwest::Proxy>,
) -> Result<reqwest::Client> {
    // reqwest is built without a crypto provider; ring is ours. An error
    // means one is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder();
    if !https {
        // The platform's usual URL is plain http inside the cluster. The
        // default TLS set-up reads every file in /etc/ssl/certs at build
        // time; a client that will never do TLS needs no roots at all.
        let no_tls = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder = builder.tls_backend_preconfigured(no_tls);
    }
    builder = builder.no_proxy();
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .user_agent(concat!(
            "molecule-git-token-helper/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .context("cannot set up the HTTP client")
}

/// `GET url` with `Authorization: SCHEME SECRET`, marked sensitive so that
/// no layer below logs it, and `Accept: application/json`. `None` when the
/// secret cannot be a header value (validated secrets always can).
pub fn authorized_get(
    client: &reqwest::Client,
    url: &str,
    scheme: &str,
    secret: &Secret,
) -> Option<reqwest::RequestBuilder> {
    let mut authorization = HeaderValue::try_from(format!("{scheme} {}", secret.expose())).ok()?;
    authorization.set_sensitive(true);
    debug!("GET {url}");
    Some(
        client
            .get(url)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json"),
    )
}

/// A runtime and a client for a run of requests that share one deadline
/// (`status --probe`'s): each request gets what is left of it.
pub struct Session {
    runtime: Runtime,
    client: reqwest::Client,
    deadline: Instant,
    /// The whole budget that `deadline` ends, named in messages.
    timeout: Duration,
}

impl Session {
    /// `https`: whether any URL asked will be https (TLS roots are loaded
    /// only then); `proxy`: see [`client_via`].
    pub fn new(
        https: bool,
        proxy: Option<reqwest::Proxy>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Session> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        Ok(Session {
            runtime: runtime()?,
            client: client_via(https, remaining, proxy)?,
            deadline,
            timeout,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Run `request` (for `url`) within what is left of the deadline. An
    /// error is one line naming the URL.
    pub fn run<T>(
        &self,
        url: &str,
        request: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        // The timer is made inside the runtime, whose clock it needs.
        let outcome = self
            .runtime
            .block_on(async { tokio::time::timeout(remaining, request).await });
        outcome.unwrap_or_else(|_| {
            Err(format!(
                "{url} did not answer within the {} s deadline",
                self.timeout.as_secs_f64()
            ))
        })
    }
}

/// A request to `url` that got no answer, as one line (never a body).
pub fn send_error(error: &reqwest::Error, url: &str) -> String {
    let reason = root_cause(error);
    if error.is_connect() {
        format!("cannot connect to {url}: {reason}")
    } else {
        format!("the request to {url} failed: {reason}")
    }
}

/// The innermost cause, which is the informative one ("connection refused").
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    match cause.downcast_ref::<std::io::Error>() {
        Some(io) => crate::diag::io_reason(io),
        None => cause.to_string(),
    }
}
