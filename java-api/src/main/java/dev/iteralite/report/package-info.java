/**
 * Training and benchmark reports: {@link dev.iteralite.report.ReportGenerator} reads a trainer's
 * metrics CSV ({@link dev.iteralite.report.MetricsCsv}) and a {@code benchmark.json} and writes
 * {@code report.md} with PNG charts plus a self-contained {@code report.html}. A section whose input
 * is missing says what is missing and why instead of drawing anything.
 */
package dev.iteralite.report;
