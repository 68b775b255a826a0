//! The mapper's SVG graph as a picture: rasterised in process (resvg), encoded as PNG or JPEG. In: the SVG
//! text the mapper draws. Out: the image's bytes. Labels are drawn with the machine's fonts (a sans-serif
//! face: DejaVu Sans, Liberation Sans, Noto Sans, or any installed one); a machine with no font at all
//! cannot draw them and is told so.

use std::sync::Arc;

use resvg::{tiny_skia, usvg};

/// The largest picture drawn, in pixels a side: a bigger graph is scaled down to fit.
pub const MAX_SIDE: u32 = 8192;

/// Faces tried, in order, for the SVG's generic `sans-serif`.
const SANS_SERIF: [&str; 4] = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial"];

/// JPEG quality (0-100).
const JPEG_QUALITY: u8 = 90;

/// A picture format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picture {
    Png,
    Jpeg,
}

#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    #[error("the mapper's SVG does not parse: {0}")]
    Svg(String),
    #[error("no font is installed to draw the graph's labels (install one, e.g. Debian's fonts-dejavu-core)")]
    NoFont,
    #[error("the graph is empty")]
    Empty,
    #[error("encoding the picture: {0}")]
    Encode(String),
}

/// Draws `svg` as a `picture`, at its own size (scaled down to [`MAX_SIDE`] when larger).
pub fn rasterise(svg: &str, picture: Picture) -> Result<Vec<u8>, RasterError> {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_system_fonts();
    if fonts.is_empty() {
        return Err(RasterError::NoFont);
    }
    let installed = |family: &str| {
        fonts
            .faces()
            .any(|face| face.families.iter().any(|(name, _)| name == family))
    };
    let sans = SANS_SERIF
        .iter()
        .find(|family| installed(family))
        .map(|family| (*family).to_owned())
        .or_else(|| {
            fonts
                .faces()
                .find_map(|face| face.families.first().map(|(name, _)| name.clone()))
        })
        .ok_or(RasterError::NoFont)?;
    fonts.set_sans_serif_family(sans.clone());
    let options = usvg::Options {
        font_family: sans,
        fontdb: Arc::new(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| RasterError::Svg(e.to_string()))?;
    let size = tree.size();
    let scale = (MAX_SIDE as f32 / size.width().max(size.height())).min(1.0);
    let width = (size.width() * scale).ceil() as u32;
    let height = (size.height() * scale).ceil() as u32;
    let mut pixmap = tiny_skia::Pixmap::new(width, height).ok_or(RasterError::Empty)?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    match picture {
        Picture::Png => pixmap
            .encode_png()
            .map_err(|e| RasterError::Encode(e.to_string())),
        Picture::Jpeg => {
            // The background is opaque white, so the premultiplied pixels are the colours: drop alpha.
            let rgb: Vec<u8> = pixmap
                .data()
                .chunks_exact(4)
                .flat_map(|px| [px[0], px[1], px[2]])
                .collect();
            let mut out = Vec::new();
            let side = |n: u32| {
                u16::try_from(n).map_err(|_| RasterError::Encode(format!("{n} pixels is too wide for JPEG")))
            };
            jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
                .encode(&rgb, side(width)?, side(height)?, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| RasterError::Encode(e.to_string()))?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" font-family="sans-serif" font-size="12"><rect x="0" y="0" width="60" height="40" fill="#ff0000"/><text x="65" y="25">client</text></svg>"##;

    #[test]
    fn png_and_jpeg_carry_the_drawing() {
        let png = rasterise(SVG, Picture::Png).expect("drawn");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height as drawn.
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 120);
        assert_eq!(u32::from_be_bytes([png[20], png[21], png[22], png[23]]), 40);
        let jpeg = rasterise(SVG, Picture::Jpeg).expect("drawn");
        assert_eq!(&jpeg[..3], [0xFF, 0xD8, 0xFF], "JPEG start of image");
        assert_eq!(&jpeg[jpeg.len() - 2..], [0xFF, 0xD9], "JPEG end of image");
    }

    #[test]
    fn the_label_is_drawn_with_an_installed_font() {
        let without_text = SVG.replace("client", "");
        let with = rasterise(SVG, Picture::Png).expect("drawn");
        let without = rasterise(&without_text, Picture::Png).expect("drawn");
        assert_ne!(with, without, "the label changes the picture");
    }

    #[test]
    fn a_bad_svg_is_an_error() {
        let message = rasterise("<svg", Picture::Png).expect_err("bad").to_string();
        assert!(
            message.starts_with("the mapper's SVG does not parse"),
            "{message}"
        );
    }
}
