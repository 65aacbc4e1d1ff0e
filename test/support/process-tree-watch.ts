import { readdirSync, readFileSync } from 'node:fs';

/** A process a watch saw: a pid with its start time, so a pid reused later is not taken for it. */
export interface SeenProcess {
  pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat). */
  startTime: number;
  /** Its command line, as last seen. */
  command: string;
}

interface ProcStat {
  state: string;
  ppid: number;
  startTime: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces or parentheses itself: the fields follow the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]), startTime: Number(fields[19]) };
  } catch {
    return null; // gone
  }
}

/** The parent of a live process; null once it is gone. */
export function parentPid(pid: number): number | null {
  return readStat(pid)?.ppid ?? null;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/**
 * Watches, from outside, every process descended from a root process, and every process whose environment
 * holds a marker (a daemon that left the tree: pg_ctl's postmaster is re-parented to init at once). It reads
 * /proc, so it sees what a test started whatever the test's own bookkeeping says — the point of a check that
 * nothing was left behind. Linux only.
 */
export class ProcessTreeWatch {
  private readonly seenByKey = new Map<string, SeenProcess>();
  private readonly timer: NodeJS.Timeout;

  /**
   * @param rootPid whose descendants are watched (not the root itself)
   * @param marker a string in the environment of the processes to watch outside the tree; default none
   * @param everyMs how often /proc is read; default 200
   */
  constructor(
    private readonly rootPid: number,
    private readonly marker: string | null = null,
    everyMs = 200,
  ) {
    this.look();
    this.timer = setInterval(() => this.look(), everyMs);
    this.timer.unref();
  }

  /** Every process seen so far. */
  seen(): SeenProcess[] {
    this.look();
    return [...this.seenByKey.values()];
  }

  /** The processes seen that are still alive (a zombie is not: it has ended, only its exit status waits). */
  alive(): SeenProcess[] {
    return this.seen().filter((seen) => {
      const stat = readStat(seen.pid);
      return stat !== null && stat.startTime === seen.startTime && stat.state !== 'Z';
    });
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.timer);
  }

  private look(): void {
    const stats = new Map<number, ProcStat>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = readStat(Number(entry));
      if (stat !== null) stats.set(Number(entry), stat);
    }
    const descends = (pid: number) => {
      for (
        let at = stats.get(pid)?.ppid, hops = 0;
        at !== undefined && at > 1 && hops < 64;
        at = stats.get(at)?.ppid, hops++
      ) {
        if (at === this.rootPid) return true;
      }
      return false;
    };
    for (const [pid, stat] of stats) {
      const key = `${pid}:${stat.startTime}`;
      const known = this.seenByKey.get(key);
      if (known) {
        // pg_ctl's child becomes a shell, then postgres, under one pid: the latest command line says what it is.
        known.command = readText(`/proc/${pid}/cmdline`) || known.command;
        continue;
      }
      if (pid === this.rootPid || pid === process.pid) continue;
      if (descends(pid) || (this.marker !== null && readText(`/proc/${pid}/environ`).includes(this.marker))) {
        this.seenByKey.set(key, { pid, startTime: stat.startTime, command: readText(`/proc/${pid}/cmdline`) });
      }
    }
  }
}
