import type { VmCommand } from './exec-client.js';
import type { ServerChannel } from 'ssh2';

/** What a keystroke can do besides redrawing the line being typed. */
interface KeyActions {
  echo(text: string): void;
  submit(text: string): void;
  interrupt(): void;
  eof(): void;
}

/**
 * A person's `ssh` asked for a terminal and put its own in raw mode; with no pty
 * here, this stands in for the line discipline: echo, Enter, Backspace, Ctrl-C,
 * Ctrl-D, and CRLF line ends on output. `interrupt` is Ctrl-C: the caller knows
 * which processes it should reach.
 */
export function wireTerminal(channel: ServerChannel, child: VmCommand, interrupt: () => void): void {
  const show = (data: Buffer): boolean => channel.write(Buffer.from(data.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'));
  child.stdout?.on('data', show);
  child.stderr?.on('data', show);
  let line = '';
  const keys: KeyActions = {
    echo: (text) => channel.write(text),
    submit: (text) => child.stdin?.write(text),
    interrupt,
    eof: () => child.stdin?.end(),
  };
  channel.on('data', (data: Buffer) => {
    for (const key of data.toString('utf8')) line = onKey(key, line, keys);
  });
  channel.on('end', () => child.stdin?.end());
}

/** Applies one key to the line typed so far and returns the new line. */
function onKey(key: string, line: string, io: KeyActions): string {
  switch (key) {
    case '\r':
    case '\n':
      io.echo('\r\n');
      io.submit(`${line}\n`);
      return '';
    case '\x7f':
    case '\b':
      if (line) io.echo('\b \b');
      return [...line].slice(0, -1).join('');
    case '\x03':
      io.echo('^C\r\n');
      io.interrupt();
      return '';
    case '\x04':
      if (!line) io.eof();
      return line;
    default:
      io.echo(key);
      return line + key;
  }
}
