package dev.iteralite.maven;

import dev.iteralite.report.ReportGenerator;
import java.io.File;
import java.io.IOException;
import java.util.Map;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Writes {@code report.md} (with PNG charts in {@code charts/}) and a self-contained {@code
 * report.html} from the train goal's metrics CSV, the benchmark goal's {@code benchmark.json} and the
 * compress goal's {@code compression.json}: loss curves, size vs perplexity, the compression table,
 * throughput, kernel roofline, expert load, energy and system. A
 * missing input is reported in its section, never drawn. Needs no model and no native library.
 *
 * <pre>
 * mvn itera:report
 * mvn itera:report -Ditera.report.metrics=target/itera/checkpoints/wiki/metrics.csv
 * </pre>
 */
@Mojo(name = "report", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true)
public class ReportMojo extends AbstractMojo {
  /** Skips every itera goal. */
  @Parameter(property = PropertyNames.SKIP, defaultValue = "false")
  boolean skip;

  /** Skips this goal only. */
  @Parameter(property = "itera.report.skip", defaultValue = "false")
  boolean skipReport;

  /** The trained model whose metrics are charted when {@code metrics} is not set (the train goal's {@code name}). */
  @Parameter(property = TrainMojo.NAME, defaultValue = "model")
  String name;

  /** Where the train goal puts each named model (the train goal's parameter of the same name). */
  @Parameter(property = "itera.train.checkpointsDirectory", defaultValue = "${project.build.directory}/itera/checkpoints")
  File checkpointsDirectory;

  /** A metrics CSV; default: {@code checkpointsDirectory/<name>/metrics.csv}. */
  @Parameter(property = "itera.report.metrics")
  File metrics;

  /** The benchmark results. */
  @Parameter(property = "itera.report.benchmark", defaultValue = "${project.build.directory}/itera/benchmark.json")
  File benchmark;

  /** The compress goal's table of variants (a missing file makes the Compression section say so). */
  @Parameter(property = "itera.report.compression", defaultValue = "${project.build.directory}/itera/compression.json")
  File compression;

  /** Where {@code report.md}, {@code report.html} and {@code charts/} go. */
  @Parameter(property = "itera.report.outputDirectory", defaultValue = "${project.build.directory}/itera")
  File outputDirectory;

  /** The report's heading. */
  @Parameter(property = "itera.report.title", defaultValue = "Itera-Lite report")
  String title;

  /** Chart width in pixels. */
  @Parameter(property = "itera.report.chartWidth", defaultValue = "800")
  int chartWidth;

  /** Chart height in pixels. */
  @Parameter(property = "itera.report.chartHeight", defaultValue = "500")
  int chartHeight;

  /** The options this configuration gives; the message names the XML element and the fix. */
  ReportGenerator.Options options() throws ConfigurationProblem {
    if (outputDirectory == null) {
      throw new ConfigurationProblem("outputDirectory", "no directory", "leave it at its default or set one");
    }
    if (chartWidth < 200 || chartWidth > 4000) {
      throw new ConfigurationProblem("chartWidth", "must be in [200, 4000] pixels, got " + chartWidth,
          "set e.g. <chartWidth>800</chartWidth>");
    }
    if (chartHeight < 150 || chartHeight > 4000) {
      throw new ConfigurationProblem("chartHeight", "must be in [150, 4000] pixels, got " + chartHeight,
          "set e.g. <chartHeight>500</chartHeight>");
    }
    if (title == null || title.isBlank()) {
      throw new ConfigurationProblem("title", "is blank", "set <title> or leave it at its default");
    }
    File m = metrics != null ? metrics
        : checkpointsDirectory == null || name == null ? null : new File(new File(checkpointsDirectory, name), "metrics.csv");
    return new ReportGenerator.Options(m == null ? null : m.toPath(), benchmark == null ? null : benchmark.toPath(),
        compression == null ? null : compression.toPath(), outputDirectory.toPath(), title, chartWidth, chartHeight);
  }

  @Override
  public void execute() throws MojoExecutionException {
    if (skip || skipReport) {
      getLog().info("Skipping itera:report (" + (skip ? PropertyNames.SKIP : "itera.report.skip") + " is set)");
      return;
    }
    ReportGenerator.Result r;
    try {
      r = new ReportGenerator(options()).write();
    } catch (ConfigurationProblem p) {
      throw new MojoExecutionException(p.getMessage(), p);
    } catch (IllegalArgumentException e) {
      // A malformed input: the message names the file and the column or field.
      throw new MojoExecutionException(e.getMessage(), e);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot write the report to " + outputDirectory + ": " + e.getMessage(), e);
    }
    getLog().info("Report: " + r.markdown() + " and " + r.html().getFileName() + " (" + r.charts().size() + " charts)");
    for (Map.Entry<String, String> m : r.missing().entrySet()) {
      getLog().info("  not in the report: " + m.getKey() + " - " + m.getValue());
    }
  }
}
