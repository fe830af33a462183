//! `rdb dump --hex`: hexyl dumps of the file's bytes — each selected key's own bytes (the span
//! the reader gives in its `KeyEnd`), or the whole file. Offsets in the left panel are file
//! offsets, so a dump can be held next to the `--layout` walk.

use super::layout::ByteSource;
use super::{Paint, Role, Sink, quoted};
use crate::rdb::{Event, Span};
use std::io::{self, Read, Write};

/// What `--hex` dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexMode {
    /// Each selected key's bytes, with a heading naming it.
    Keys,
    /// The whole file once (filters do not apply).
    File,
}

/// The hex printer.
pub struct HexDump<W: Write> {
    out: W,
    src: Box<dyn ByteSource>,
    paint: Paint,
    mode: HexMode,
    /// Heading of the key being read (from its `KeyStart`).
    heading: Option<String>,
}

impl<W: Write> HexDump<W> {
    pub fn new(out: W, src: Box<dyn ByteSource>, paint: Paint, mode: HexMode) -> HexDump<W> {
        HexDump {
            out,
            src,
            paint,
            mode,
            heading: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Dumps `span` (to the end of the data when `span` is `None`).
    fn dump(&mut self, span: Option<Span>) -> io::Result<()> {
        let (from, end) = match span {
            Some(s) => (s.offset, Some(s.end())),
            None => (0, None),
        };
        let reader = SpanReader {
            src: &*self.src,
            pos: from,
            end,
        };
        let mut p = hexyl::PrinterBuilder::new(&mut self.out)
            .show_color(self.paint.on)
            .with_border_style(hexyl::BorderStyle::Unicode)
            .build();
        p.display_offset(from);
        p.print_all(reader)
    }
}

/// Sequential reads over a range of a [`ByteSource`], for hexyl.
struct SpanReader<'a, S: ByteSource + ?Sized> {
    src: &'a S,
    pos: u64,
    end: Option<u64>,
}

impl<S: ByteSource + ?Sized> Read for SpanReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = match self.end {
            Some(e) => usize::try_from(e.saturating_sub(self.pos)).unwrap_or(usize::MAX),
            None => usize::MAX,
        };
        let n = buf.len().min(room);
        if n == 0 {
            return Ok(0);
        }
        let got = self.src.read_at(self.pos, &mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<W: Write> Sink for HexDump<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        if self.mode == HexMode::File {
            return Ok(());
        }
        match ev {
            Event::KeyStart(k) => {
                let key = self.paint.paint(super::Role::Key, quoted(&k.key, 64));
                self.heading = Some(format!(
                    "db {} key {key} ({}, RDB type {} {})",
                    k.db,
                    k.value_type.as_str(),
                    k.rdb_type,
                    k.rdb_type_name
                ));
            }
            Event::KeyEnd(k) => {
                let h = self.heading.take().unwrap_or_default();
                let h = format!("{h}: {} bytes at {:#x}", k.span.len, k.span.offset);
                writeln!(self.out, "{}", self.paint.paint(Role::Heading, h))?;
                self.dump(Some(k.span))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.mode == HexMode::File {
            self.dump(None)?;
        }
        self.out.flush()
    }
}
