package dev.iteralite.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Energy measurement from Linux powercap RAPL counters ({@code
 * /sys/class/powercap/intel-rapl:N/energy_uj}, also used for AMD packages): reads every top-level
 * package domain before and after an interval and sums the differences, handling a counter that
 * wrapped (at {@code max_energy_range_uj}) once in between.
 *
 * <p>Sub-domains ({@code intel-rapl:N:M}: cores, uncore, DRAM) are skipped because the package
 * already contains them. Where the counters cannot be read — no powercap in this kernel or VM, no
 * RAPL domain, or {@code energy_uj} readable only by root (Linux 5.10+) — {@link #reason()} says
 * exactly that and every result is {@link EnergyResult#unavailable unavailable}; no figure is ever
 * estimated.
 */
public final class Energy {
  /** The powercap root on Linux. */
  public static final Path DEFAULT_ROOT = Path.of("/sys/class/powercap");

  private static final Pattern PACKAGE_DOMAIN = Pattern.compile("intel-rapl:\\d+");

  private final List<Domain> domains;
  private final String reason;

  private record Domain(String label, Path energy, long maxRange) {}

  private Energy(List<Domain> domains, String reason) {
    this.domains = domains;
    this.reason = reason;
  }

  /** Probes {@link #DEFAULT_ROOT}. */
  public static Energy probe() {
    return probe(DEFAULT_ROOT);
  }

  /**
   * Probes the powercap tree at {@code root} (tests pass a fake tree): finds the package domains and
   * reads each counter once to prove it is readable.
   */
  public static Energy probe(Path root) {
    Objects.requireNonNull(root, "root");
    if (!Files.isDirectory(root)) {
      return new Energy(List.of(), "powercap not present: " + root
          + " does not exist (no RAPL driver in this kernel, or a VM/container that hides it)");
    }
    List<Path> dirs = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
      for (Path p : ds) {
        if (PACKAGE_DOMAIN.matcher(p.getFileName().toString()).matches()) {
          dirs.add(p);
        }
      }
    } catch (IOException e) {
      return new Energy(List.of(), "powercap unreadable: cannot list " + root + ": " + e.getMessage());
    }
    if (dirs.isEmpty()) {
      return new Energy(List.of(), "no RAPL package domain (intel-rapl:N) under " + root
          + " (the intel_rapl_common module is not loaded or this CPU exposes none)");
    }
    dirs.sort(null);
    List<Domain> found = new ArrayList<>();
    for (Path dir : dirs) {
      Path energy = dir.resolve("energy_uj");
      try {
        readMicrojoules(energy);
        long max = readMicrojoules(dir.resolve("max_energy_range_uj"));
        String name = dir.getFileName().toString();
        Path nameFile = dir.resolve("name");
        if (Files.isReadable(nameFile)) {
          name += " (" + Files.readString(nameFile, StandardCharsets.UTF_8).trim() + ")";
        }
        found.add(new Domain(name, energy, max));
      } catch (AccessDeniedException e) {
        return new Energy(List.of(), "permission denied reading " + e.getFile()
            + " (root-only since Linux 5.10: run as root or make energy_uj readable)");
      } catch (NoSuchFileException e) {
        return new Energy(List.of(), "RAPL domain " + dir + " lacks " + e.getFile());
      } catch (IOException | NumberFormatException e) {
        return new Energy(List.of(), "cannot read RAPL counter in " + dir + ": " + e);
      }
    }
    return new Energy(List.copyOf(found), "");
  }

  /** Whether energy can be measured here. */
  public boolean available() {
    return !domains.isEmpty();
  }

  /** Why energy cannot be measured; empty when it can. */
  public String reason() {
    return reason;
  }

  /** Starts measuring: reads every counter now. */
  public Meter start() {
    if (!available()) {
      return new Meter(null, 0, reason);
    }
    try {
      return new Meter(readAll(), System.nanoTime(), "");
    } catch (IOException | RuntimeException e) {
      return new Meter(null, 0, "RAPL counter became unreadable: " + e);
    }
  }

  private long[] readAll() throws IOException {
    long[] v = new long[domains.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = readMicrojoules(domains.get(i).energy());
    }
    return v;
  }

  private static long readMicrojoules(Path f) throws IOException {
    return Long.parseLong(Files.readString(f, StandardCharsets.US_ASCII).trim());
  }

  /** Energy consumed between two counter readings of one domain, in µJ, allowing one wrap-around. */
  static long delta(long start, long end, long maxRange) {
    if (end >= start) {
      return end - start;
    }
    // The counter runs from 0 to max_energy_range_uj and restarts at 0.
    return (maxRange - start) + end;
  }

  /** An interval being measured; {@link #stop} reads the counters again. */
  public final class Meter {
    private final long[] startValues;
    private final long startNanos;
    private final String failure;

    private Meter(long[] startValues, long startNanos, String failure) {
      this.startValues = startValues;
      this.startNanos = startNanos;
      this.failure = failure;
    }

    /**
     * Ends the interval.
     *
     * @param tokens tokens processed during it (for joules per token), >= 0
     */
    public EnergyResult stop(long tokens) {
      if (tokens < 0) {
        throw new IllegalArgumentException("Energy: tokens must be >= 0, got " + tokens);
      }
      if (startValues == null) {
        return EnergyResult.unavailable(failure);
      }
      long[] end;
      try {
        end = readAll();
      } catch (IOException | RuntimeException e) {
        return EnergyResult.unavailable("RAPL counter became unreadable: " + e);
      }
      double seconds = (System.nanoTime() - startNanos) / 1e9;
      long micro = 0;
      List<String> labels = new ArrayList<>();
      for (int i = 0; i < end.length; i++) {
        Domain d = domains.get(i);
        micro += delta(startValues[i], end[i], d.maxRange());
        labels.add(d.label());
      }
      return new EnergyResult(true, micro / 1e6, tokens, seconds, labels, "");
    }
  }
}
