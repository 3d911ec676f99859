//! The listing page: a folder as people like to see it.
//!
//! Breadcrumbs in the heading, folders first, then sortable columns (name in
//! natural, case-insensitive order, size, date; ascending or descending by
//! clicking a header, `?sort=name|size|date&order=asc|desc`), an inline SVG
//! icon per type, sizes and dates that never wrap, dark mode from
//! `prefers-color-scheme`, a layout that holds at phone widths (long names
//! wrap, the time of day folds away), and a favicon. Everything is in the
//! page itself (no external requests), and it is complete without
//! JavaScript: sorting is links, uploads, new folders and deletions are
//! plain forms; a small script only adds drag and drop, a progress bar and a
//! confirmation before deleting.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use super::Features;
use super::listing::{Entry, Sort, SortKey, encode_link, href};
use crate::http::response::{Response, html_escape};

/// The favicon, also served at `/favicon.ico` when the root has none.
const FAVICON: &str = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'>\
<path d='M2 6.5A2.5 2.5 0 0 1 4.5 4h5l2 2h8A2.5 2.5 0 0 1 22 8.5v9a2.5 2.5 0 0 1-2.5 2.5h-15A2.5 2.5 0 0 1 2 17.5z' fill='#2f81f7'/>\
<path d='M12 9.5v7M8.8 12.7 12 9.5l3.2 3.2' stroke='#fff' stroke-width='2' fill='none' stroke-linecap='round' stroke-linejoin='round'/></svg>";

/// `GET /favicon.ico` where the root has no such file: the page's own icon
/// (so a browser's request for it is no 404 in the log).
pub(super) fn favicon() -> Response {
    Response::bytes(200, "image/svg+xml", FAVICON.as_bytes().to_vec())
        .header("Cache-Control", "public, max-age=86400")
}

/// The `'sha256-...'` sources of the page's inline style and script, for
/// a Content-Security-Policy that allows them and nothing else inline.
pub(crate) fn inline_sources() -> (String, String) {
    use base64::Engine;
    let hash = |s: &str| {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(d.as_ref())
        )
    };
    (hash(STYLE), hash(SCRIPT))
}

/// The page's style: colours as variables, a dark set, a narrow layout.
const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--row:#f6f8fa;--link:#0969da;--dir:#54aeff;--btn:#f6f8fa;--drop:#ddf4ff}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--row:#151b23;--link:#4493f8;--dir:#4493f8;--btn:#21262d;--drop:#0c2d6b}}
*{box-sizing:border-box}
.sprites{position:absolute}
html{background:var(--bg)}
body{margin:0 auto;max-width:72rem;padding:1rem 1.25rem 3rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:1.3rem;font-weight:600;margin:.3rem 0 .8rem;overflow-wrap:anywhere}
h1 a{padding:0 .05em}
.bar{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin:0 0 .8rem;color:var(--muted);font-size:.9rem}
.bar form{display:flex;gap:.4rem;align-items:center;flex-wrap:wrap;margin:0}
input,button{font:inherit;color:inherit}
input[type=text]{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.25rem .5rem;width:11rem;max-width:100%}
button{background:var(--btn);border:1px solid var(--line);border-radius:6px;padding:.25rem .7rem;cursor:pointer}
button:hover{border-color:var(--muted)}
.up{border:1px dashed var(--line);border-radius:8px;padding:.6rem .8rem;margin:0 0 1rem}
.up input[type=file]{max-width:100%}
.drag .up{background:var(--drop);border-color:var(--link)}
progress{width:12rem;max-width:100%}
.msg{color:var(--muted)}
table{width:100%;border-collapse:collapse}
th,td{padding:.4rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
th{font-weight:600;font-size:.85rem;color:var(--muted);white-space:nowrap}
th a{color:inherit}
th a.asc::after{content:" \25B2";font-size:.7em}th a.desc::after{content:" \25BC";font-size:.7em}
tbody tr:hover{background:var(--row)}
td.name{width:100%;overflow-wrap:anywhere;word-break:break-word}
td.name a{display:inline-flex;gap:.45rem;align-items:center;vertical-align:middle}
.size,.date{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums;color:var(--muted)}
.date{text-align:left}
td.act{width:1%;padding:.2rem .3rem}
td.act form{margin:0}
td.act button{padding:0 .45rem;line-height:1.5;color:var(--muted)}
svg.i{width:1.15rem;height:1.15rem;flex:none;color:var(--muted)}
svg.i.dir{color:var(--dir)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:640px){body{padding:.6rem .6rem 2rem;font-size:14px}th,td{padding:.4rem .3rem}.date .t{display:none}input[type=text]{width:9rem}}
"#;

/// Icons, defined once and used by reference.
const ICONS: &str = r##"<svg width="0" height="0" class="sprites" aria-hidden="true"><defs>
<symbol id="i-dir" viewBox="0 0 24 24"><path fill="currentColor" d="M2 6.5A2.5 2.5 0 0 1 4.5 4h5l2 2h8A2.5 2.5 0 0 1 22 8.5v9a2.5 2.5 0 0 1-2.5 2.5h-15A2.5 2.5 0 0 1 2 17.5z"/></symbol>
<symbol id="i-up" viewBox="0 0 24 24"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" d="M9 14 4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11"/></symbol>
<symbol id="i-file" viewBox="0 0 24 24"><path fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round" d="M6 2.8h8l5 5V20a1.2 1.2 0 0 1-1.2 1.2H6A1.2 1.2 0 0 1 4.8 20V4A1.2 1.2 0 0 1 6 2.8zM14 2.8V8h5"/></symbol>
<symbol id="i-text" viewBox="0 0 24 24"><use href="#i-file"/><path stroke="currentColor" stroke-width="1.6" d="M8 12h8M8 15h8M8 18h5"/></symbol>
<symbol id="i-code" viewBox="0 0 24 24"><use href="#i-file"/><path fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" d="m10 12-2.5 2.5L10 17m4-5 2.5 2.5L14 17"/></symbol>
<symbol id="i-image" viewBox="0 0 24 24"><use href="#i-file"/><path fill="currentColor" d="m7.5 18 3-4 2 2.5 1.5-2 2.5 3.5z"/><circle cx="9.5" cy="11" r="1.3" fill="currentColor"/></symbol>
<symbol id="i-audio" viewBox="0 0 24 24"><use href="#i-file"/><path fill="currentColor" d="M11 10.5 15 9.5v6a1.6 1.6 0 1 1-1-1.5V11.3l-2 .5v4.7a1.6 1.6 0 1 1-1-1.5z"/></symbol>
<symbol id="i-video" viewBox="0 0 24 24"><use href="#i-file"/><path fill="currentColor" d="M10 11v6.5l5.2-3.25z"/></symbol>
<symbol id="i-archive" viewBox="0 0 24 24"><use href="#i-file"/><path stroke="currentColor" stroke-width="1.6" d="M11 5h2M11 8h2M11 11h2"/><rect x="10.2" y="13" width="3.6" height="4.2" rx=".6" fill="none" stroke="currentColor" stroke-width="1.4"/></symbol>
<symbol id="i-pdf" viewBox="0 0 24 24"><use href="#i-file"/><path fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round" d="M8 18c2-1.5 3.5-4.5 4-7 .5 2.5 2 4.5 4 5.5-2.5-.3-5.5.3-8 1.5z"/></symbol>
</defs></svg>"##;

/// The script: drag and drop with a progress bar for the upload form, and
/// a confirmation before deleting. The page works without it.
const SCRIPT: &str = r#"(()=>{const f=document.getElementById('up');
if(f){const i=f.querySelector('input[type=file]'),p=f.querySelector('progress'),o=f.querySelector('.msg');
const say=t=>{o.textContent=t};
const send=fs=>{if(!fs||!fs.length)return;const d=new FormData();for(const x of fs)d.append('file',x,x.name);
const r=new XMLHttpRequest();r.open('POST',location.pathname);r.setRequestHeader('Accept','text/plain');
p.hidden=false;p.value=0;say('uploading '+fs.length+' file(s)…');
r.upload.onprogress=e=>{if(e.lengthComputable){p.value=e.loaded/e.total*100;say(Math.round(p.value)+'%')}};
r.onload=()=>{if(r.status<300){location.reload()}else{p.hidden=true;const h=new DOMParser().parseFromString(r.responseText,'text/html').querySelector('p');say(r.status+': '+(h?h.textContent:r.statusText))}};
r.onerror=()=>{p.hidden=true;say('upload failed: connection lost')};r.send(d)};
f.addEventListener('submit',e=>{e.preventDefault();send(i.files)});
addEventListener('dragover',e=>{e.preventDefault();document.body.classList.add('drag')});
addEventListener('dragleave',e=>{if(!e.relatedTarget)document.body.classList.remove('drag')});
addEventListener('drop',e=>{e.preventDefault();document.body.classList.remove('drag');send(e.dataTransfer.files)})}
for(const d of document.querySelectorAll('form.del'))d.addEventListener('submit',e=>{if(!confirm('Delete '+d.elements.delete.value+'?'))e.preventDefault()});
})();"#;

/// The icon for an entry.
fn icon(e: &Entry) -> &'static str {
    if e.is_dir {
        return "dir";
    }
    let name = String::from_utf8_lossy(&e.name).to_lowercase();
    let ext = name.rsplit_once('.').map_or("", |(_, x)| x);
    match ext {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" | "bmp" | "ico" | "avif" | "heic"
        | "tif" | "tiff" => "image",
        "mp3" | "flac" | "ogg" | "oga" | "opus" | "wav" | "m4a" | "aac" => "audio",
        "mp4" | "mkv" | "webm" | "mov" | "avi" | "m4v" | "ogv" => "video",
        "zip" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "zst" | "7z" | "rar" | "deb" | "rpm"
        | "iso" => "archive",
        "pdf" => "pdf",
        "rs" | "c" | "h" | "cpp" | "py" | "js" | "ts" | "go" | "java" | "sh" | "html" | "css"
        | "json" | "toml" | "yaml" | "yml" | "xml" | "rb" | "php" => "code",
        "txt" | "md" | "csv" | "log" | "rst" | "tex" | "ini" | "conf" => "text",
        _ => "file",
    }
}

fn svg(id: &str) -> String {
    let class = if id == "dir" { "i dir" } else { "i" };
    format!("<svg class=\"{class}\" aria-hidden=\"true\"><use href=\"#i-{id}\"/></svg>")
}

/// A name as shown: characters that would make it display as something else
/// (a U+202E turning `gpj.exe` into `exe.jpg`) appear as U+FFFD; links still
/// name the file exactly.
fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .map(|c| {
            if crate::disk::name::deceptive(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// The heading: `Index of /a/b/` with every folder on the way a link.
fn heading(rel: &Path) -> String {
    let parts: Vec<&[u8]> = rel.iter().map(|p| p.as_bytes()).collect();
    if parts.is_empty() {
        return "<h1>Index of /</h1>".into();
    }
    let mut h = String::from("<h1>Index of <a href=\"/\">/</a>");
    let mut link = String::from("/");
    for (i, p) in parts.iter().enumerate() {
        link.push_str(&encode_link(p));
        link.push('/');
        if i + 1 < parts.len() {
            h.push_str(&format!(
                "<a href=\"{}\">{}</a>/",
                html_escape(&link),
                html_escape(&shown(p))
            ));
        } else {
            h.push_str(&format!(
                "<span aria-current=\"page\">{}</span>/",
                html_escape(&shown(p))
            ));
        }
    }
    h.push_str("</h1>");
    h
}

/// A column header: a link that sorts by `key` (toggling the order when it
/// already does).
fn column(label: &str, class: &str, key: SortKey, now: Sort) -> String {
    let active = now.key == key;
    let next = if active {
        Sort {
            key,
            descending: !now.descending,
        }
    } else {
        Sort {
            key,
            descending: key != SortKey::Name,
        }
    };
    let (state, aria) = match (active, now.descending) {
        (false, _) => ("", "none"),
        (true, false) => (" class=\"asc\"", "ascending"),
        (true, true) => (" class=\"desc\"", "descending"),
    };
    format!(
        "<th class=\"{class}\" aria-sort=\"{aria}\"><a href=\"{}\"{state}>{label}</a></th>",
        html_escape(&next.query())
    )
}

/// The HTML listing of directory `rel` (relative to the root).
pub(super) fn html(rel: &Path, list: &[Entry], order: Sort, features: Features) -> String {
    let title = format!("/{}", String::from_utf8_lossy(rel.as_os_str().as_bytes()));
    let title = if title.ends_with('/') {
        title
    } else {
        format!("{title}/")
    };
    let mut html = String::with_capacity(8192 + list.len() * 400);
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>Index of {t}</title>\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"data:image/svg+xml,{icon}\">\
         <style>{STYLE}</style></head>\n<body>\n{ICONS}\n{h}\n",
        t = html_escape(&title),
        icon = FAVICON.replace('#', "%23").replace('"', "'"),
        h = heading(rel),
    ));
    if features.archives || features.mkdir {
        html.push_str("<div class=\"bar\">");
        if features.archives {
            html.push_str(
                "<span>Download this folder: <a href=\"?download=zip\" download>zip</a> · \
                 <a href=\"?download=tar.gz\" download>tar.gz</a> · \
                 <a href=\"?download=tar\" download>tar</a></span>",
            );
        }
        if features.mkdir {
            html.push_str(
                "<form method=\"post\" class=\"mk\"><label class=\"sr\" for=\"mkdir\">New folder</label>\
                 <input type=\"text\" id=\"mkdir\" name=\"mkdir\" placeholder=\"New folder name\" required maxlength=\"255\">\
                 <button type=\"submit\">Create folder</button></form>",
            );
        }
        html.push_str("</div>\n");
    }
    if features.upload {
        html.push_str(
            "<form id=\"up\" class=\"up bar\" method=\"post\" enctype=\"multipart/form-data\">\
             <label for=\"files\">Upload files (or drop them on the page):</label>\
             <input type=\"file\" id=\"files\" name=\"file\" multiple required>\
             <button type=\"submit\">Upload</button>\
             <progress max=\"100\" value=\"0\" hidden></progress><span class=\"msg\" role=\"status\"></span></form>\n",
        );
    }
    html.push_str("<table>\n<thead><tr>");
    html.push_str(&column("Name", "name", SortKey::Name, order));
    html.push_str(&column("Size", "size", SortKey::Size, order));
    html.push_str(&column("Modified", "date", SortKey::Date, order));
    if features.delete {
        html.push_str("<th class=\"act\"><span class=\"sr\">Actions</span></th>");
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    let empty_act = if features.delete {
        "<td class=\"act\"></td>"
    } else {
        ""
    };
    if !rel.as_os_str().is_empty() {
        html.push_str(&format!(
            "<tr><td class=\"name\"><a href=\"../\">{}../</a></td><td class=\"size\"></td><td class=\"date\"></td>{empty_act}</tr>\n",
            svg("up")
        ));
    }
    let keep_order = if order.is_default() {
        String::new()
    } else {
        order.query()
    };
    for e in list {
        let name = shown(&e.name);
        let label = if e.is_dir { format!("{name}/") } else { name };
        let (size, size_title) = if e.is_dir {
            ("-".to_string(), String::new())
        } else {
            (
                crate::human::size(e.size),
                format!(" title=\"{} bytes\"", e.size),
            )
        };
        let full = crate::human::date(e.mtime as i64);
        let (day, time) = full.split_once(' ').unwrap_or((&full, ""));
        let http_date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(e.mtime));
        let mut link = href(e);
        if e.is_dir {
            link.push_str(&keep_order);
        }
        html.push_str(&format!(
            "<tr><td class=\"name\"><a href=\"{}\">{}<span>{}</span></a></td>\
             <td class=\"size\"{size_title}>{size}</td>\
             <td class=\"date\" title=\"{http_date}\">{day}<span class=\"t\"> {time}</span></td>",
            html_escape(&link),
            svg(icon(e)),
            html_escape(&label),
        ));
        if features.delete {
            match std::str::from_utf8(&e.name) {
                Ok(n) if !crate::http::static_files::is_hidden(n) => html.push_str(&format!(
                    "<td class=\"act\"><form method=\"post\" class=\"del\">\
                     <input type=\"hidden\" name=\"delete\" value=\"{v}\">\
                     <button type=\"submit\" title=\"Delete {v}\" aria-label=\"Delete {v}\">×</button></form></td>",
                    v = html_escape(n)
                )),
                _ => html.push_str(empty_act),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
    if features.upload || features.delete {
        html.push_str("<script>");
        html.push_str(SCRIPT);
        html.push_str("</script>\n");
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool, size: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            is_dir,
            size,
            mtime: 784_111_777,
        }
    }

    fn page(rel: &str, list: &[Entry]) -> String {
        html(
            Path::new(rel),
            list,
            Sort::from_query(None, None),
            Features::default(),
        )
    }

    #[test]
    fn html_listing_escapes_and_links() {
        let list = [entry("sub", true, 4096), entry("<x>&.txt", false, 1536)];
        let root = page("", &list);
        assert!(root.contains("<title>Index of /</title>"));
        assert!(root.contains("<h1>Index of /</h1>"));
        assert!(!root.contains("href=\"../\""));
        assert!(!root.contains("<script>"), "no script without writes");
        let p = page("a&b/c", &list);
        assert!(p.contains("<title>Index of /a&amp;b/c/</title>"));
        assert!(p.contains(
            "<h1>Index of <a href=\"/\">/</a><a href=\"/a%26b/\">a&amp;b</a>/<span aria-current=\"page\">c</span>/</h1>"
        ));
        assert!(p.contains("<a href=\"../\">"));
        assert!(p.contains("<a href=\"sub/\"><svg class=\"i dir\""));
        assert!(p.contains("<span>sub/</span></a></td><td class=\"size\">-</td>"));
        assert!(p.contains("<a href=\"%3Cx%3E%26.txt\"><svg class=\"i\" aria-hidden=\"true\"><use href=\"#i-text\"/></svg><span>&lt;x&gt;&amp;.txt</span></a>"));
        assert!(p.contains("<td class=\"size\" title=\"1536 bytes\">1.5 KiB</td>"));
        assert!(p.contains("<td class=\"date\" title=\"Sun, 06 Nov 1994 08:49:37 GMT\">1994-11-06<span class=\"t\"> 08:49</span></td>"));
        assert!(p.ends_with("</tbody></table>\n</body></html>\n"));
        // No external requests: nothing loaded from elsewhere.
        assert!(!p.contains("src=") && !p.contains("href=\"http") && !p.contains("url("));
    }

    #[test]
    fn headers_sort_and_toggle() {
        let p = page("", &[]);
        assert!(p.contains("<th class=\"name\" aria-sort=\"ascending\"><a href=\"?sort=name&amp;order=desc\" class=\"asc\">Name</a></th>"));
        assert!(p.contains("<a href=\"?sort=size&amp;order=desc\">Size</a>"));
        let by_date = html(
            Path::new(""),
            &[entry("d", true, 0)],
            Sort::from_query(Some("date"), Some("desc")),
            Features::default(),
        );
        assert!(
            by_date.contains("<a href=\"?sort=date&amp;order=asc\" class=\"desc\">Modified</a>")
        );
        // Folders keep the order.
        assert!(by_date.contains("href=\"d/?sort=date&amp;order=desc\""));
    }

    #[test]
    fn forms_only_for_what_is_allowed() {
        let all = Features {
            upload: true,
            mkdir: true,
            delete: true,
            archives: true,
        };
        let p = html(
            Path::new(""),
            &[entry("f.txt", false, 1)],
            Sort::from_query(None, None),
            all,
        );
        assert!(p.contains("enctype=\"multipart/form-data\""));
        assert!(p.contains("name=\"mkdir\""));
        assert!(p.contains("<input type=\"hidden\" name=\"delete\" value=\"f.txt\">"));
        assert!(p.contains("?download=zip"));
        assert!(p.contains("<script>"));
        let none = page("", &[entry("f.txt", false, 1)]);
        for absent in ["<form", "download=", "<script"] {
            assert!(!none.contains(absent), "{absent}");
        }
    }

    #[test]
    fn names_that_display_as_something_else_are_shown_with_their_hidden_characters() {
        let p = page("", &[entry("gpj\u{202E}.exe", false, 1)]);
        assert!(p.contains("<span>gpj\u{FFFD}.exe</span>"), "{p}");
        assert!(p.contains("href=\"gpj%E2%80%AE.exe\""), "{p}");
    }

    #[test]
    fn icons_by_type() {
        assert_eq!(icon(&entry("a.PNG", false, 1)), "image");
        assert_eq!(icon(&entry("a.tar.gz", false, 1)), "archive");
        assert_eq!(icon(&entry("noext", false, 1)), "file");
        assert_eq!(icon(&entry("d.png", true, 1)), "dir");
    }
}
