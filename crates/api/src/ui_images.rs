//! The UI's images page (`/MAAS/r/images`): the ephemeral environment machines network-boot
//! into (the generated image sets: kernel and initrd per architecture, or none, which means
//! network-booting machines cannot be enlisted or commissioned), the import from the boot
//! sources (its state, each file's progress, what was refused; start and stop), and the boot
//! resources (uploaded and synced images) with their upload progress. Administrators upload
//! an image with `assets/images.js` as python-libmaas does: the file's SHA-256 and size first
//! (`POST boot-resources/`), then its bytes in chunks (`PUT …/upload/{id}/`), with a progress
//! bar; the region checks the digest when the last chunk arrives.

use crate::ui::{esc, options};
use crate::ui_forms::{api_form, delete, field, section, table, SCRIPTS};
use crate::App;
use ingot_region::model::User;

fn size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= 1024.0 * MIB {
        format!("{:.1} GiB", bytes as f64 / (1024.0 * MIB))
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB)
    }
}

pub(crate) async fn page(app: &App, u: &User) -> Result<String, crate::ApiError> {
    let sets = app
        .images_dir
        .as_deref()
        .map(ingot_region::boot::image_sets)
        .unwrap_or_default();
    let set_rows: Vec<Vec<String>> = sets
        .iter()
        .map(|s| {
            vec![
                esc(&s.name),
                esc(&s.arch),
                esc(&s.kernel_version),
                size(s.kernel.size + s.initrd.size),
            ]
        })
        .collect();
    let ephemeral = if sets.is_empty() {
        "<p class=\"error\" role=\"alert\">No ephemeral environment is built: machines that boot from the network cannot be enlisted, commissioned or deployed. Build it on the region with <code>ingot images build</code>.</p>".to_string()
    } else {
        table(&["Name", "Architecture", "Kernel", "Size"], &set_rows, "")
    };

    let import = app.region.import_state();
    let files: Vec<Vec<String>> = import
        .files
        .iter()
        .map(|f| {
            vec![
                esc(&f.path),
                esc(&f.state),
                format!(
                    "<progress max=\"{}\" value=\"{}\" aria-label=\"{}\"></progress> {} of {}",
                    f.size.max(1),
                    f.done,
                    esc(&f.path),
                    size(f.done),
                    size(f.size)
                ),
            ]
        })
        .collect();
    let errors: String = import
        .errors
        .iter()
        .map(|e| format!("<li class=\"error\">{}</li>", esc(e)))
        .collect();
    let mut import_html = format!(
        "<p>Import: <b>{}</b>{}</p>{}{}",
        esc(if import.state.is_empty() {
            "idle"
        } else {
            &import.state
        }),
        if import.bytes_total > 0 {
            format!(
                ", {} of {}",
                size(import.bytes_done),
                size(import.bytes_total)
            )
        } else {
            String::new()
        },
        if files.is_empty() {
            String::new()
        } else {
            table(&["File", "State", "Progress"], &files, "")
        },
        if errors.is_empty() {
            String::new()
        } else {
            format!("<ul>{errors}</ul>")
        }
    );
    if u.is_admin {
        import_html.push_str(&if import.importing {
            api_form(
                "/MAAS/api/2.0/boot-resources/?op=stop_import",
                "POST",
                "inline",
                "",
                "Stop the import",
            )
        } else {
            api_form(
                "/MAAS/api/2.0/boot-resources/?op=import",
                "POST",
                "inline",
                "",
                "Import from the boot sources",
            )
        });
    }

    let rows: Vec<Vec<String>> = app
        .region
        .boot_resources()
        .await?
        .into_iter()
        .map(|b| {
            let state = if b.complete {
                "complete".to_string()
            } else {
                format!(
                    "<progress max=\"{}\" value=\"{}\" aria-label=\"upload of {}\"></progress> {} of {}",
                    b.size.max(1),
                    b.uploaded,
                    esc(&b.name),
                    size(b.uploaded.max(0) as u64),
                    size(b.size.max(0) as u64)
                )
            };
            let mut row = vec![
                esc(&b.name),
                esc(&b.architecture),
                esc(&b.title),
                esc(&b.filetype),
                esc(&b.rtype),
                size(b.size.max(0) as u64),
                state,
            ];
            if u.is_admin {
                row.push(delete(
                    &format!("/MAAS/api/2.0/boot-resources/{}/", b.id),
                    &format!("image {}", b.name),
                ));
            }
            row
        })
        .collect();
    let mut heads = vec![
        "Name",
        "Architecture",
        "Title",
        "File type",
        "Source",
        "Size",
        "State",
    ];
    if u.is_admin {
        heads.push("Change");
    }
    let mut out = section("ephemeral", "Ephemeral environment", &ephemeral)
        + &section("import", "Import from the boot sources", &import_html)
        + &section("resources", "Images", &table(&heads, &rows, "No images."));
    if u.is_admin {
        out.push_str(&section(
            "upload",
            "Upload an image",
            &format!(
                "<form id=\"upload\" class=\"stacked\">\
                 <label>Image file <input type=\"file\" name=\"file\" required></label>\
                 {}{}\
                 <label>Architecture <select name=\"architecture\">{}</select></label>\
                 <label>File type <select name=\"filetype\">{}</select></label>\
                 <p class=\"error\" data-error-for=\"architecture\" role=\"alert\" hidden></p>\
                 <p class=\"error\" data-error-for=\"filetype\" role=\"alert\" hidden></p>\
                 <p class=\"error\" data-error-for=\"__all__\" role=\"alert\" hidden></p>\
                 <button type=\"submit\">Upload</button>\
                 <p><progress id=\"upload-progress\" max=\"1\" value=\"0\" aria-label=\"upload progress\" hidden></progress> \
                 <span id=\"upload-state\" role=\"status\"></span></p></form>",
                field("Name (custom/NAME)", "name", "", "text"),
                field("Title", "title", "", "text"),
                options([("amd64/generic", "amd64/generic"), ("arm64/generic", "arm64/generic")], "amd64/generic"),
                options(
                    [
                        ("tgz", "tgz: a root file system tarball"),
                        ("ddraw", "ddraw: a raw disk image"),
                        ("ddqcow2", "ddqcow2: a qcow2 disk image (converted to raw)"),
                        ("squashfs", "squashfs: a root file system"),
                    ],
                    "tgz"
                ),
            ),
        ));
    }
    Ok(format!(
        "<main class=\"admin\">{out}</main>{SCRIPTS}<script src=\"/MAAS/r/images.js\" defer></script>"
    ))
}
