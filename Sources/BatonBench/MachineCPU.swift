import Foundation

/// The whole machine's CPU time so far, from the first line of `/proc/stat` (Linux):
/// two samples tell what a window of work cost in CPU, whoever spent it (the worker,
/// the server's processes, pgbench), and how much of the time the cores were idle.
struct MachineCPU {
    /// Seconds the cores spent busy (user, nice, system, interrupts), summed over all cores.
    let busy: Double
    /// Seconds the cores spent idle or waiting for I/O, summed over all cores.
    let idle: Double

    /// The machine's counters now, or nil where `/proc/stat` can't be read. Time the
    /// hypervisor stole is neither busy nor idle.
    static func now() -> MachineCPU? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 7 else { return nil }
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        // user nice system idle iowait irq softirq …
        return MachineCPU(
            busy: (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / perSecond,
            idle: (ticks[3] + ticks[4]) / perSecond
        )
    }

    /// The CPU a window of work used.
    struct Load: Encodable {
        /// CPU seconds spent, summed over all cores.
        let busySeconds: Double
        /// The share of the cores' time spent busy, 0 to 1.
        let busyShare: Double
    }

    /// What the machine did between `before` and now, if both samples could be read.
    static func load(since before: MachineCPU?) -> Load? {
        guard let before, let now = now() else { return nil }
        let busy = now.busy - before.busy
        let idle = now.idle - before.idle
        return Load(busySeconds: busy, busyShare: busy + idle > 0 ? busy / (busy + idle) : 0)
    }
}
