/**
 * Byte-level framing for huge inputs: JSON lines, and the single-object `{"Records":[...]}` CloudTrail file.
 * Both keep at most one line / one record in memory, so a 2 GB file is read in constant memory, and a line
 * or record over the size limit is dropped while it streams past instead of being buffered.
 */
const NEWLINE = 0x0a;

export interface FrameSink {
  frame(text: string, index: number): void;
  tooLong(index: number, bytes: number): void;
  /** The input ended inside a record (a truncated `{"Records":[...]}` file). */
  truncated?(index: number): void;
}

/** Splits a byte stream into lines; blank lines are skipped but counted. */
export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;
  private skippedBytes = 0;
  private line = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sink: FrameSink,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.keep(chunk, start, chunk.length);
        return;
      }
      this.keep(chunk, start, nl);
      this.flush();
      start = nl + 1;
    }
  }

  end(): void {
    if (this.size > 0 || this.skipping) this.flush();
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.skipping) {
      this.skippedBytes += to - from;
      return;
    }
    if (this.size + (to - from) > this.maxBytes) {
      this.skipping = true;
      this.skippedBytes = this.size + (to - from);
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(chunk.subarray(from, to));
    this.size += to - from;
  }

  private flush(): void {
    this.line += 1;
    if (this.skipping) {
      this.sink.tooLong(this.line, this.skippedBytes);
      this.skipping = false;
      this.skippedBytes = 0;
      return;
    }
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    let text = buf.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim().length > 0) this.sink.frame(text, this.line);
  }
}

const enum S {
  Preamble,
  Between,
  InRecord,
  Done,
}

/**
 * Streams the elements of the top-level `Records` array of a CloudTrail log file. Assumes (as CloudTrail
 * writes it, and as the format sniffer checked) that `Records` is the first member of the object.
 */
export class RecordsArrayFramer {
  private state = S.Preamble;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: Buffer[] = [];
  private size = 0;
  private tooLong = false;
  private record = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sink: FrameSink,
  ) {}

  push(chunk: Buffer): void {
    let recordStart = this.state === S.InRecord ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      switch (this.state) {
        case S.Preamble:
          if (c === 0x5b /* [ */) this.state = S.Between;
          break;
        case S.Between:
          if (c === 0x7b /* { */) {
            this.state = S.InRecord;
            this.depth = 1;
            this.inString = false;
            this.escaped = false;
            this.tooLong = false;
            this.record += 1;
            recordStart = i;
          } else if (c === 0x5d /* ] */) {
            this.state = S.Done;
          }
          break;
        case S.InRecord:
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (c === 0x5c /* \ */) this.escaped = true;
            else if (c === 0x22 /* " */) this.inString = false;
          } else if (c === 0x22) this.inString = true;
          else if (c === 0x7b || c === 0x5b) this.depth += 1;
          else if (c === 0x7d || c === 0x5d) {
            this.depth -= 1;
            if (this.depth === 0) {
              this.keep(chunk, recordStart, i + 1);
              this.emit();
              this.state = S.Between;
              recordStart = -1;
            }
          }
          break;
        case S.Done:
          return;
      }
    }
    if (this.state === S.InRecord && recordStart >= 0) this.keep(chunk, recordStart, chunk.length);
  }

  end(): void {
    if (this.state === S.InRecord) {
      this.sink.truncated?.(this.record);
      this.parts = [];
      this.size = 0;
    }
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    if (this.tooLong) {
      this.size += to - from;
      return;
    }
    if (this.size + (to - from) > this.maxBytes) {
      this.tooLong = true;
      this.parts = [];
      this.size += to - from;
      return;
    }
    this.parts.push(chunk.subarray(from, to));
    this.size += to - from;
  }

  private emit(): void {
    if (this.tooLong) this.sink.tooLong(this.record, this.size);
    else {
      const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
      this.sink.frame(buf.toString('utf8'), this.record);
    }
    this.parts = [];
    this.size = 0;
    this.tooLong = false;
  }
}

/** True when the first bytes are the start of a `{"Records":[` CloudTrail file. */
export function looksLikeRecordsFile(head: Buffer): boolean {
  return /^\s*\{\s*"Records"\s*:\s*\[/.test(head.subarray(0, 256).toString('utf8'));
}
