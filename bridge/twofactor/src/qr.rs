//! The enrolment URI as a QR code: drawn in a terminal, or as SVG for the page.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

fn encode(text: &str) -> QrCode {
    // An otpauth URI is about 150 bytes: far below the largest version at M.
    QrCode::with_error_correction_level(text, EcLevel::M).expect("an otpauth URI fits in a QR code")
}

/// Two rows per text line with half blocks, dark on light with a quiet zone,
/// so that phones read it from a dark terminal too.
pub fn terminal(text: &str) -> String {
    encode(text)
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

pub fn svg(text: &str) -> String {
    encode(text)
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build()
}
