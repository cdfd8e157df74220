//! What went wrong when a request could not be proxied, as a type: Pingora's error (its
//! type and which side it came from) classified once into the status the client gets and
//! the code the response, the log and the metrics use.

use pingora::{Error, ErrorSource, ErrorType};

/// A request that failed after it was allowed (or while Pingora read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Pingora was asked for an HTTP status of its own.
    HttpStatus(u16),
    /// The backend took longer than `read_timeout_ms` (or to accept): 504, as NGINX answers.
    UpstreamTimeout,
    /// The backend could not be reached, reset the connection, or no upstream is up: 502.
    UpstreamUnavailable,
    /// The client went away: nothing to answer.
    ClientGone,
    /// The client sent what could not be read: 400.
    MalformedRequest,
    /// garita's own fault: 500.
    Internal,
}

impl Failure {
    pub fn of(e: &Error) -> Self {
        match (e.etype(), e.esource()) {
            (ErrorType::HTTPStatus(code), _) => Failure::HttpStatus(*code),
            (ErrorType::ReadTimedout | ErrorType::ConnectTimedout, ErrorSource::Upstream) => {
                Failure::UpstreamTimeout
            }
            (_, ErrorSource::Upstream) => Failure::UpstreamUnavailable,
            (
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed,
                ErrorSource::Downstream,
            ) => Failure::ClientGone,
            (_, ErrorSource::Downstream) => Failure::MalformedRequest,
            (_, ErrorSource::Internal | ErrorSource::Unset) => Failure::Internal,
        }
    }

    /// The status the client gets; 0 when there is nobody to answer.
    pub fn status(self) -> u16 {
        match self {
            Failure::HttpStatus(code) => code,
            Failure::UpstreamTimeout => 504,
            Failure::UpstreamUnavailable => 502,
            Failure::ClientGone => 0,
            Failure::MalformedRequest => 400,
            Failure::Internal => 500,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Failure::HttpStatus(_) => "http_error",
            Failure::UpstreamTimeout => "upstream_timeout",
            Failure::UpstreamUnavailable => "upstream_unavailable",
            Failure::ClientGone => "client_gone",
            Failure::MalformedRequest => "malformed_request",
            Failure::Internal => "internal_error",
        }
    }

    /// Whether the backend is the one that failed (what the log's `upstream_error` says).
    pub fn is_upstream(self) -> bool {
        matches!(
            self,
            Failure::UpstreamTimeout | Failure::UpstreamUnavailable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_their_status_and_code() {
        let up = |t: ErrorType| Failure::of(&Error::new_up(t));
        let down = |t: ErrorType| Failure::of(&Error::new_down(t));
        assert_eq!(up(ErrorType::ReadTimedout), Failure::UpstreamTimeout);
        assert_eq!(up(ErrorType::ConnectTimedout).status(), 504);
        assert_eq!(up(ErrorType::ConnectRefused).status(), 502);
        assert_eq!(down(ErrorType::ConnectionClosed).status(), 0);
        assert_eq!(
            down(ErrorType::InvalidHTTPHeader).code(),
            "malformed_request"
        );
        assert_eq!(
            Failure::of(&Error::new(ErrorType::HTTPStatus(413))).status(),
            413
        );
        assert!(!Failure::Internal.is_upstream());
    }
}
