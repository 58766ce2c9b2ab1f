//! A server's answer read under a ceiling, chunk by chunk as it arrives: never the whole of
//! whatever the server sends. A body past its ceiling is refused as soon as it passes it (or
//! at once, when its `Content-Length` already says so), so a 1 GiB answer costs one ceiling
//! of memory. How long a body may take is the client's overall timeout (`[limits]
//! timeout_s`), which covers the body too: a server that trickles for ever is cut off.

use bytes::{Bytes, BytesMut};

/// An API answer (a page of devices or users, a device, an error): a real one is a few
/// kilobytes, a page of a hundred devices some hundred.
pub(crate) const API_BODY_CEILING: usize = 1024 * 1024;
/// The token endpoint's answer: an access token is one or two kilobytes.
pub(crate) const TOKEN_BODY_CEILING: usize = 64 * 1024;

/// Why no body came back.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body is longer than the ceiling; nothing past it was read.
    TooLarge,
    /// The connection failed or timed out while the body was read.
    Failed(reqwest::Error),
}

/// The body of `response`, when it holds at most `ceiling` bytes.
pub(crate) async fn read(
    mut response: reqwest::Response,
    ceiling: usize,
) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > ceiling as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Capped::new(ceiling);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Failed)? {
        body.push(&chunk)?;
    }
    Ok(body.finish())
}

/// Bytes gathered up to a ceiling. Apart from the network, so it can be tested on its own.
#[derive(Debug)]
pub(crate) struct Capped {
    ceiling: usize,
    bytes: BytesMut,
}

impl Capped {
    pub(crate) fn new(ceiling: usize) -> Self {
        Self {
            ceiling,
            bytes: BytesMut::new(),
        }
    }

    /// Adds a chunk, or refuses it (keeping nothing more) when it would pass the ceiling.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        if chunk.len() > self.ceiling.saturating_sub(self.bytes.len()) {
            return Err(BodyError::TooLarge);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub(crate) fn finish(self) -> Bytes {
        self.bytes.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the chunks, the body is kept whole when it fits and refused when it does
        /// not, and never holds more than the ceiling.
        #[test]
        fn a_body_is_whole_or_refused_and_never_past_its_ceiling(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
            ceiling in 0usize..4000,
        ) {
            let total: usize = chunks.iter().map(Vec::len).sum();
            let mut body = Capped::new(ceiling);
            let mut refused = false;
            for chunk in &chunks {
                if body.push(chunk).is_err() {
                    refused = true;
                    break;
                }
                prop_assert!(body.bytes.len() <= ceiling);
            }
            prop_assert_eq!(refused, total > ceiling);
            if !refused {
                prop_assert_eq!(body.finish().to_vec(), chunks.concat());
            }
        }
    }
}
