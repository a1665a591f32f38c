//! One error type for every handler: a TAXII error body with the right status, and never a
//! stack trace, a path or a database message in the response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use relto_store::StoreError;
use relto_taxii::{TaxiiError, TAXII_MEDIA_TYPE};

#[derive(Debug)]
pub struct ApiError(pub TaxiiError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<TaxiiError> for ApiError {
    fn from(e: TaxiiError) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "storage unavailable");
                ApiError(TaxiiError::unavailable(
                    "storage is busy; try again shortly",
                ))
            }
            StoreError::Invalid(m) => ApiError(TaxiiError::bad_request(m)),
            StoreError::Internal(m) => {
                tracing::error!(error = %m, "storage error");
                ApiError(TaxiiError::internal())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, self.0.to_json()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"relto\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}
