package dev.iteralite.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A trainer's metrics CSV (the columns of {@code dev.iteralite.train.Trainer#CSV_HEADER}), parsed
 * and checked, for reports.
 *
 * @param file where it was read from
 * @param rows one per optimiser step, in file order
 */
public record MetricsCsv(Path file, List<Row> rows) {
  /** The columns, in order, that the file must have. */
  public static final List<String> COLUMNS = List.of("step", "tokens_seen", "lr", "train_loss", "val_loss", "grad_norm",
      "tokens_per_s", "aux_loss", "expert_load");

  /**
   * One step's figures.
   *
   * @param valLoss NaN on steps without evaluation
   * @param expertLoad per-expert routed fraction, layer after layer; empty without experts
   */
  public record Row(long step, long tokensSeen, double lr, double trainLoss, double valLoss, double gradNorm,
      double tokensPerSecond, double auxLoss, double[] expertLoad) {}

  public MetricsCsv {
    rows = List.copyOf(rows);
  }

  /**
   * Reads and checks {@code file}.
   *
   * @throws IllegalArgumentException naming the file, the line and the column when the header or a
   *     value is wrong
   * @throws IOException when the file cannot be read
   */
  public static MetricsCsv read(Path file) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(file.toString(), null, "metrics CSV not found");
    }
    if (lines.isEmpty()) {
      throw new IllegalArgumentException("metrics CSV " + file + " is empty; expected the header " + String.join(",", COLUMNS));
    }
    String[] header = lines.get(0).strip().split(",", -1);
    for (int c = 0; c < COLUMNS.size(); c++) {
      String got = c < header.length ? header[c].strip() : null;
      if (!COLUMNS.get(c).equals(got)) {
        throw new IllegalArgumentException("metrics CSV " + file + ": column " + (c + 1) + " of the header is "
            + (got == null ? "missing" : "'" + got + "'") + " but must be '" + COLUMNS.get(c) + "'; the header must be "
            + String.join(",", COLUMNS) + " (as written by the Trainer's metricsCsv)");
      }
    }
    if (header.length > COLUMNS.size()) {
      throw new IllegalArgumentException("metrics CSV " + file + ": unexpected column " + (COLUMNS.size() + 1) + " '"
          + header[COLUMNS.size()] + "' in the header; the header must be " + String.join(",", COLUMNS));
    }
    List<Row> rows = new ArrayList<>();
    for (int i = 1; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split(",", -1);
      if (f.length != COLUMNS.size()) {
        throw new IllegalArgumentException("metrics CSV " + file + " line " + (i + 1) + ": " + f.length
            + " fields, expected " + COLUMNS.size() + " (" + String.join(",", COLUMNS) + ")");
      }
      rows.add(new Row(longAt(file, i, f, 0), longAt(file, i, f, 1), doubleAt(file, i, f, 2), doubleAt(file, i, f, 3),
          f[4].isBlank() ? Double.NaN : doubleAt(file, i, f, 4), doubleAt(file, i, f, 5), doubleAt(file, i, f, 6),
          doubleAt(file, i, f, 7), loads(file, i, f[8])));
    }
    return new MetricsCsv(file, rows);
  }

  /** The last row that has expert loads, or null when no row has any. */
  public Row lastWithExpertLoad() {
    for (int i = rows.size() - 1; i >= 0; i--) {
      if (rows.get(i).expertLoad().length > 0) {
        return rows.get(i);
      }
    }
    return null;
  }

  private static long longAt(Path file, int line, String[] f, int c) {
    try {
      return Long.parseLong(f[c].strip());
    } catch (NumberFormatException e) {
      throw bad(file, line, c, f[c], "an integer");
    }
  }

  private static double doubleAt(Path file, int line, String[] f, int c) {
    try {
      return Double.parseDouble(f[c].strip());
    } catch (NumberFormatException e) {
      throw bad(file, line, c, f[c], "a number");
    }
  }

  private static double[] loads(Path file, int line, String s) {
    if (s.isBlank()) {
      return new double[0];
    }
    String[] parts = s.split(";");
    double[] out = new double[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Double.parseDouble(parts[i].strip());
      } catch (NumberFormatException e) {
        throw bad(file, line, 8, s, "numbers joined by ';'");
      }
    }
    return out;
  }

  private static IllegalArgumentException bad(Path file, int line, int c, String value, String expected) {
    return new IllegalArgumentException("metrics CSV " + file + " line " + (line + 1) + ", column '" + COLUMNS.get(c)
        + "': '" + value + "' is not " + expected);
  }
}
