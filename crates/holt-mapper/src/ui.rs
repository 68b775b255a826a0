//! The access graph in a browser (`docs/insights.md`): one HTML page, one script and one style sheet,
//! built into the binary (`ui/` beside this crate's sources) and served at `GET /ui/`. In: nothing (the
//! files are static and carry no data, so they need no token). Out: the files, with a Content Security
//! Policy that lets the page load only its own script and style and fetch only from the mapper — the
//! insights, through the authenticated `GET /v1/insights` like every other read.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the page is served.
pub const UI_PATH: &str = "/ui/";

const PAGE: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/graph.js");
const STYLE: &str = include_str!("../ui/graph.css");

/// What the page may load and fetch: its own files and the mapper's API, nothing from elsewhere, no inline
/// script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes (`/ui` moves to `/ui/`, so that the page's relative addresses resolve).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent(UI_PATH) }))
        .route(UI_PATH, get(|| async { asset("text/html; charset=utf-8", PAGE) }))
        .route(
            "/ui/graph.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/ui/graph.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page names its script and style by the paths served here, relative to `/ui/`, fetches the
    /// insights relative to it (so that it works under any prefix, such as the API server's service
    /// proxy), and loads nothing from another origin.
    #[test]
    fn the_page_uses_only_its_own_files_and_the_mappers_api() {
        assert!(PAGE.contains(r#"src="graph.js""#) && PAGE.contains(r#"href="graph.css""#));
        assert!(SCRIPT.contains("const API = '../v1/insights';"));
        for text in [PAGE, SCRIPT, STYLE] {
            assert!(!text.contains("https://"), "nothing from the network");
            assert!(!text.contains("@import") && !text.contains("url(http"));
        }
        // The only http:// is the SVG namespace name, which is never fetched.
        for text in [PAGE, SCRIPT] {
            let fetched = text
                .match_indices("http://")
                .filter(|(at, _)| !text[*at..].starts_with("http://www.w3.org/2000/svg"))
                .count();
            assert_eq!(fetched, 0);
        }
    }
}
