//! Which proxy a request goes through. Loopback (the sandbox, a local forwarder) is always
//! reached directly: through a proxy, a plain-http request would carry the client secret and
//! the bearer token off the machine. Plain http is allowed only to loopback (see
//! `config::connection`), so only https requests are ever proxied, and a proxy only ever
//! tunnels them (CONNECT): what they carry stays inside TLS.

/// `builder` with the https proxy the environment names (`HTTPS_PROXY`, else `ALL_PROXY`,
/// either case), minus `NO_PROXY` and every loopback host; with no proxy when it names none.
pub(crate) fn from_env(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    match https_proxy() {
        Some(proxy) => builder.proxy(proxy),
        None => builder.no_proxy(),
    }
}

fn https_proxy() -> Option<reqwest::Proxy> {
    let first = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
    };
    let target =
        first(&["HTTPS_PROXY", "https_proxy"]).or_else(|| first(&["ALL_PROXY", "all_proxy"]))?;
    let mut direct = first(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
    direct.push_str(",localhost,127.0.0.0/8,::1");
    match reqwest::Proxy::https(target.trim()) {
        Ok(proxy) => Some(proxy.no_proxy(reqwest::NoProxy::from_string(&direct))),
        // Not the value: a proxy URL may hold a password.
        Err(_) => {
            tracing::warn!(
                "HTTPS_PROXY (or ALL_PROXY) is not a proxy URL this tool can use; connecting directly"
            );
            None
        }
    }
}
