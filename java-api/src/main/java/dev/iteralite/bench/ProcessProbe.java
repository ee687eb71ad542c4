package dev.iteralite.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads this process's resident-memory peak and CPU time from Linux's /proc and the JVM. */
final class ProcessProbe {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  private ProcessProbe() {}

  /** VmHWM (peak resident set) in bytes, or -1 when /proc/self/status is unreadable or lacks it. */
  static long peakRssBytes() {
    return statusKb("VmHWM:");
  }

  /** VmRSS (current resident set) in bytes, or -1 when unreadable. */
  static long rssBytes() {
    return statusKb("VmRSS:");
  }

  /**
   * Resets VmHWM to the current resident set (writing 5 to /proc/self/clear_refs, Linux 4.0+), so
   * the next {@link #peakRssBytes()} covers only what runs after this call.
   *
   * @return whether the reset worked (if not, the peak covers the whole process lifetime)
   */
  static boolean resetPeakRss() {
    try {
      Files.writeString(CLEAR_REFS, "5");
      return true;
    } catch (IOException | SecurityException | UnsupportedOperationException e) {
      return false;
    }
  }

  /** CPU time of the whole process (all threads, user + system) in ns, or -1 if the JVM cannot tell. */
  static long processCpuNanos() {
    OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
      return sun.getProcessCpuTime();
    }
    return -1;
  }

  private static long statusKb(String key) {
    try {
      List<String> lines = Files.readAllLines(STATUS, StandardCharsets.UTF_8);
      for (String line : lines) {
        if (line.startsWith(key)) {
          String[] parts = line.substring(key.length()).trim().split("\\s+");
          return Long.parseLong(parts[0]) * 1024L;
        }
      }
      return -1;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
