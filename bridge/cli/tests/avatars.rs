//! Avatars over a real socket (reqwest against `authbridge serve`), as
//! Nextcloud's clients fetch them: `GET /index.php/avatar/{uid}/{size}[/dark]`
//! and `DELETE /index.php/avatar/`, with uploads through the CLI
//! (`authbridge user avatar set|delete`).

use authbridge_testsupport::Daemon;
use reqwest::blocking::{Client, Response};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");
const PASSWORD: &str = "Correct-Horse-9";

struct Site {
    d: Daemon,
    http: Client,
    files: tempfile::TempDir,
}

impl Site {
    /// A daemon with `frank` ("Frank K.") and `ann` (no display name).
    fn start() -> Site {
        let d = Daemon::start_http(BIN, "");
        let add = |uid: &str, name: Option<&str>| {
            let mut args = vec!["user", "add", "--password-from-env"];
            if let Some(name) = name {
                args.extend(["--display-name", name]);
            }
            args.push(uid);
            d.cli(&args, Some(PASSWORD));
        };
        add("frank", Some("Frank K."));
        add("ann", None);
        Site {
            d,
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            files: tempfile::tempdir().unwrap(),
        }
    }

    /// `GET path` as `login` (with PASSWORD), or without credentials.
    fn get(&self, path: &str, login: Option<&str>) -> Response {
        let mut request = self.http.get(format!("{}{path}", self.d.url()));
        if let Some(login) = login {
            request = request.basic_auth(login, Some(PASSWORD));
        }
        request.send().unwrap()
    }

    /// An avatar as `ann` sees it: the answer's headers and body.
    fn avatar(&self, path: &str) -> Avatar {
        let response = self.get(path, Some("ann"));
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        Avatar {
            content_type: header("content-type"),
            custom: header("x-nc-iscustomavatar"),
            disposition: header("content-disposition"),
            cache_control: header("cache-control"),
            body: response.bytes().unwrap().to_vec(),
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.files.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `authbridge user avatar set UID FILE`, expected to fail: its stderr.
    fn refused_upload(&self, uid: &str, file: &Path) -> String {
        let out = self
            .d
            .command()
            .args(["user", "avatar", "set", uid])
            .arg(file)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} was taken", file.display());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

struct Avatar {
    content_type: String,
    custom: String,
    disposition: String,
    cache_control: String,
    body: Vec<u8>,
}

/// Width and height from a PNG's IHDR chunk, as a client reads them.
fn ihdr(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn encoded(image: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// 300×200: the left half red, the right half blue.
fn red_blue() -> image::RgbImage {
    image::RgbImage::from_fn(300, 200, |x, _| match x < 150 {
        true => image::Rgb([255, 0, 0]),
        false => image::Rgb([0, 0, 255]),
    })
}

#[test]
fn generated_avatars_come_in_nextclouds_two_sizes_to_logged_in_callers() {
    let site = Site::start();
    for (asked, served) in [("64", 64), ("1", 64), ("512", 512), ("145", 512)] {
        let a = site.avatar(&format!("/index.php/avatar/frank/{asked}"));
        assert_eq!(ihdr(&a.body), (served, served), "asked {asked}");
        assert_eq!(a.content_type, "image/png");
        assert_eq!(a.custom, "0");
        assert_eq!(
            a.disposition,
            format!("inline; filename=\"avatar.{served}.png\"")
        );
        assert_eq!(a.cache_control, "private, max-age=86400");
    }
    // Nextcloud's colour for "Frank K." (index 7, #b8be68) on its light background.
    let light = site.avatar("/index.php/avatar/frank/64");
    let decoded = image::load_from_memory(&light.body).unwrap().to_rgb8();
    assert_eq!(decoded.get_pixel(0, 0).0, [0xf7, 0xf8, 0xef]);
    assert!(
        decoded.pixels().any(|p| p.0 == [0xb8, 0xbe, 0x68]),
        "initials drawn"
    );

    let dark = site.avatar("/index.php/avatar/frank/64/dark");
    assert_eq!(ihdr(&dark.body), (64, 64));
    assert_ne!(dark.body, light.body);
    assert_eq!(dark.disposition, "inline; filename=\"avatar-dark.64.png\"");
    let decoded = image::load_from_memory(&dark.body).unwrap().to_rgb8();
    assert_eq!(decoded.get_pixel(0, 0).0, [0x12, 0x13, 0x0a]);
    assert_eq!(
        ihdr(&site.avatar("/index.php/avatar/frank/512/dark").body),
        (512, 512)
    );
    // A user without a display name is drawn from the id; ids in any case.
    assert_eq!(
        ihdr(&site.avatar("/index.php/avatar/ann/64").body),
        (64, 64)
    );
    assert_eq!(
        site.avatar("/index.php/avatar/FRANK/64").body,
        light.body,
        "the same account"
    );

    // No login, a wrong password, an unknown account: nothing to learn.
    let anonymous = site.get("/index.php/avatar/frank/64", None);
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong = site
        .http
        .get(format!("{}/index.php/avatar/frank/64", site.d.url()))
        .basic_auth("frank", Some("not-the-password"))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(site.get("/index.php/avatar/nobody/64", None).status(), 401);
    let unknown = site.get("/index.php/avatar/nobody/64", Some("ann"));
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(unknown.text().unwrap(), "[]");
    // An app password is a login too.
    let token = site.d.app_password("ann");
    let by_token = site
        .http
        .get(format!("{}/index.php/avatar/frank/64", site.d.url()))
        .basic_auth("ann", Some(&token))
        .send()
        .unwrap();
    assert_eq!(by_token.status(), 200);

    // A new display name is drawn anew (the daemon's cache is keyed by it).
    site.d
        .cli(&["user", "profile", "frank", "displayname", "Zoe"], None);
    assert_ne!(site.avatar("/index.php/avatar/frank/64").body, light.body);
    let out = site.d.cli(&["user", "clear-avatar-cache"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Clearing avatar cache has started\n"),
        "{text}"
    );
    assert!(text.contains("never stored"), "{text}");
    assert!(
        text.ends_with("Cleared avatar cache successfully\n"),
        "{text}"
    );
}

#[test]
fn uploaded_avatars_are_served_scaled_until_deleted() {
    let site = Site::start();
    let generated = site.avatar("/index.php/avatar/frank/64").body;
    let png = site.file("frank.png", &encoded(&red_blue(), image::ImageFormat::Png));
    let out = site.d.cli(
        &["user", "avatar", "set", "frank", png.to_str().unwrap()],
        None,
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("300x200 PNG, stored as 200x200"), "{said}");

    for size in [64, 512] {
        for dark in ["", "/dark"] {
            let a = site.avatar(&format!("/index.php/avatar/frank/{size}{dark}"));
            assert_eq!(a.custom, "1");
            assert_eq!(a.content_type, "image/png");
            assert_eq!(
                a.disposition,
                format!("inline; filename=\"avatar.{size}.png\"")
            );
            assert_eq!(ihdr(&a.body), (size, size));
            // The middle square: red on the left, blue on the right.
            let pixels = image::load_from_memory(&a.body).unwrap().to_rgb8();
            let [r, _, b] = pixels.get_pixel(size / 8, size / 2).0;
            assert!(r > 200 && b < 50, "red at the left ({size}{dark})");
            let [r, _, b] = pixels.get_pixel(size - 1 - size / 8, size / 2).0;
            assert!(b > 200 && r < 50, "blue at the right ({size}{dark})");
        }
    }

    // DELETE is the caller's own, and needs the header that stops cross-site forms.
    let delete = |headers: bool| {
        let mut request = site
            .http
            .delete(format!("{}/index.php/avatar/", site.d.url()))
            .basic_auth("frank", Some(PASSWORD));
        if headers {
            request = request.header("OCS-APIRequest", "true");
        }
        request.send().unwrap()
    };
    assert_eq!(delete(false).status(), 412);
    assert_eq!(site.avatar("/index.php/avatar/frank/64").custom, "1");
    let no_login = site
        .http
        .delete(format!("{}/index.php/avatar/", site.d.url()))
        .header("OCS-APIRequest", "true")
        .send()
        .unwrap();
    assert_eq!(no_login.status(), 401);
    let deleted = delete(true);
    assert_eq!(deleted.status(), 200);
    assert_eq!(deleted.text().unwrap(), "[]");
    let back = site.avatar("/index.php/avatar/frank/64");
    assert_eq!((back.custom.as_str(), back.body), ("0", generated));

    // A JPEG stays a JPEG; the CLI deletes it too.
    let jpeg = site.file("frank.jpg", &encoded(&red_blue(), image::ImageFormat::Jpeg));
    site.d.cli(
        &["user", "avatar", "set", "frank", jpeg.to_str().unwrap()],
        None,
    );
    let a = site.avatar("/index.php/avatar/frank/512");
    assert_eq!(
        (a.custom.as_str(), a.content_type.as_str()),
        ("1", "image/jpeg")
    );
    assert_eq!(a.disposition, "inline; filename=\"avatar.512.jpg\"");
    let decoded = image::load_from_memory_with_format(&a.body, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 512));
    let out = site.d.cli(&["user", "avatar", "delete", "frank"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("was deleted"));
    assert_eq!(site.avatar("/index.php/avatar/frank/64").custom, "0");
    let out = site.d.cli(&["user", "avatar", "delete", "frank"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("has no uploaded avatar"));

    // A disabled account shows a guest avatar, never its own image.
    site.d.cli(
        &["user", "avatar", "set", "frank", png.to_str().unwrap()],
        None,
    );
    site.d.cli(&["user", "disable", "frank"], None);
    assert_eq!(site.avatar("/index.php/avatar/frank/64").custom, "0");
}

#[test]
fn bad_uploads_are_refused_with_the_reason() {
    let site = Site::start();
    // Over 5 MiB, whatever it holds.
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let err = site.refused_upload("frank", &site.file("big.png", &big));
    assert!(err.contains("larger than 5 MiB"), "{err}");
    // Wider than 4096: refused from the header, before any pixel is decoded.
    let wide = encoded(&image::RgbImage::new(4097, 2), image::ImageFormat::Png);
    let err = site.refused_upload("frank", &site.file("wide.png", &wide));
    assert!(
        err.contains("4097×2") && err.contains("at most 4096×4096"),
        "{err}"
    );
    // Cut short, or not an image at all.
    let mut cut = encoded(&red_blue(), image::ImageFormat::Png);
    cut.truncate(cut.len() / 2);
    let err = site.refused_upload("frank", &site.file("cut.png", &cut));
    assert!(err.contains("cannot be decoded"), "{err}");
    let err = site.refused_upload("frank", &site.file("gif.png", b"GIF89a\x01\x00\x01\x00"));
    assert!(err.contains("not a PNG or JPEG"), "{err}");
    let err = site.refused_upload("frank", &site.files.path().join("missing.png"));
    assert!(err.contains("cannot read"), "{err}");
    let fine = site.file("fine.png", &encoded(&red_blue(), image::ImageFormat::Png));
    let err = site.refused_upload("nobody", &fine);
    assert!(err.contains("\"nobody\" does not exist"), "{err}");
    // Nothing was stored.
    assert_eq!(site.avatar("/index.php/avatar/frank/64").custom, "0");
}

#[test]
fn guests_get_a_generated_avatar_and_an_account_named_guest_keeps_its_own() {
    let site = Site::start();
    // A name that is no account: initials on its colour, in both sizes.
    let a = site.avatar("/index.php/avatar/guest/Some%20Guest/64");
    assert_eq!(
        (a.content_type.as_str(), a.custom.as_str()),
        ("image/png", "0")
    );
    assert_eq!(ihdr(&a.body), (64, 64));
    let dark = site.avatar("/index.php/avatar/guest/Some%20Guest/512/dark");
    assert_eq!(ihdr(&dark.body), (512, 512));
    assert_eq!(
        site.get("/index.php/avatar/guest/Some%20Guest/64", None)
            .status(),
        401
    );
    let long = format!("/index.php/avatar/guest/{}/64", "x".repeat(257));
    assert_eq!(site.get(&long, Some("ann")).status(), 404);
    // An account called "guest" is still served by its own route.
    site.d.cli(
        &["user", "add", "--password-from-env", "guest"],
        Some(PASSWORD),
    );
    assert_eq!(
        ihdr(&site.avatar("/index.php/avatar/guest/64").body),
        (64, 64)
    );
}
