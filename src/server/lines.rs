//! Newline-delimited bodies (the delimited framing, `/inserts-stream` requests, PRINT): bytes
//! arrive in pieces, lines come out whole. Consumed bytes are dropped in bulk, not line by line.

#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Where the unread bytes start.
    start: usize,
}

impl LineBuffer {
    /// Adds bytes that arrived.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete line, without its newline.
    pub fn next_line(&mut self) -> Option<&[u8]> {
        let at = self.buf[self.start..].iter().position(|b| *b == b'\n')?;
        let line = &self.buf[self.start..self.start + at];
        self.start += at + 1;
        Some(line)
    }

    /// Bytes not yet part of a complete line.
    pub fn unread(&self) -> usize {
        self.buf.len() - self.start
    }

    /// What is left once the body has ended (a last line without a newline).
    pub fn take_rest(&mut self) -> Vec<u8> {
        let rest = self.buf.split_off(self.start);
        self.buf.clear();
        self.start = 0;
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::LineBuffer;

    #[test]
    fn lines_across_pieces() {
        let mut b = LineBuffer::default();
        b.push(b"ab");
        assert_eq!(b.next_line(), None);
        b.push(b"c\nd\n\ne");
        assert_eq!(b.next_line(), Some(&b"abc"[..]));
        assert_eq!(b.next_line(), Some(&b"d"[..]));
        assert_eq!(b.next_line(), Some(&b""[..]));
        assert_eq!(b.next_line(), None);
        assert_eq!(b.unread(), 1);
        b.push(b"f\n");
        assert_eq!(b.next_line(), Some(&b"ef"[..]));
        b.push(b"tail");
        assert_eq!(b.take_rest(), b"tail");
        assert_eq!(b.unread(), 0);
    }
}
