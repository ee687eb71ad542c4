package dev.iteralite.nn;

import dev.iteralite.backend.SelectiveScan;

/**
 * Hyper-parameters of a {@link MambaMixer} (Mamba-1; kernel-facts §1.1): model width {@code
 * dModel}, state size {@code dState} (N, default 16), convolution taps {@code dConv} (K, default 4),
 * {@code expand} (E = expand * dModel, default 2), {@code dtRank} (R, default ceil(dModel / 16)),
 * the inner width {@code dInner} (E; default expand * dModel, smaller after channel pruning),
 * the dt initialisation range [{@code dtMin}, {@code dtMax}] (default [1e-3, 0.1]) with floor
 * {@code dtFloor} (1e-4), and the scan's {@code chunk} (tokens per saved state for the backward).
 *
 * <p>Use {@link #of(int)} for the defaults or {@link #builder(int)}.
 */
public record MambaConfig(
    int dModel, int dState, int dConv, int expand, int dtRank, double dtMin, double dtMax, double dtFloor, int chunk,
    int dInner) {

  public MambaConfig {
    positive("dModel", dModel);
    positive("dState", dState);
    positive("dConv", dConv);
    positive("expand", expand);
    positive("dtRank", dtRank);
    positive("chunk", chunk);
    positive("dInner", dInner);
    if (dState > SelectiveScan.MAX_STATE) {
      throw new IllegalArgumentException(
          "MambaConfig: dState=" + dState + " exceeds the scan kernels' limit " + SelectiveScan.MAX_STATE);
    }
    if ((long) dModel * expand > Integer.MAX_VALUE / 2 || dInner > Integer.MAX_VALUE / 2) {
      throw new IllegalArgumentException("MambaConfig: dInner = " + Math.max((long) dModel * expand, dInner) + " is too large");
    }
    if (!(dtMin > 0 && dtMin <= dtMax && Double.isFinite(dtMax))) {
      throw new IllegalArgumentException(
          "MambaConfig: need 0 < dtMin <= dtMax (finite), got dtMin=" + dtMin + ", dtMax=" + dtMax);
    }
    if (!(dtFloor > 0 && Double.isFinite(dtFloor))) {
      throw new IllegalArgumentException("MambaConfig: dtFloor must be finite and > 0, got " + dtFloor);
    }
  }

  private static void positive(String name, int v) {
    if (v < 1) {
      throw new IllegalArgumentException("MambaConfig: " + name + " must be >= 1, got " + v);
    }
  }

  /** The defaults for a model width: N 16, K 4, expand 2, R ceil(dModel/16). */
  public static MambaConfig of(int dModel) {
    return builder(dModel).build();
  }

  public static Builder builder(int dModel) {
    return new Builder(dModel);
  }

  /** Builder with Mamba's defaults. */
  public static final class Builder {
    private final int dModel;
    private int dState = 16;
    private int dConv = 4;
    private int expand = 2;
    private int dtRank = -1;
    private double dtMin = 1e-3;
    private double dtMax = 0.1;
    private double dtFloor = 1e-4;
    private int chunk = SelectiveScan.DEFAULT_CHUNK;
    private int dInner = -1;

    private Builder(int dModel) {
      this.dModel = dModel;
    }

    public Builder dState(int v) {
      dState = v;
      return this;
    }

    public Builder dConv(int v) {
      dConv = v;
      return this;
    }

    public Builder expand(int v) {
      expand = v;
      return this;
    }

    /** dt_rank; default ceil(dModel / 16). */
    public Builder dtRank(int v) {
      dtRank = v;
      return this;
    }

    public Builder dtRange(double min, double max) {
      dtMin = min;
      dtMax = max;
      return this;
    }

    public Builder dtFloor(double v) {
      dtFloor = v;
      return this;
    }

    /**
     * Inner width E; default expand * dModel. Set explicitly for channel-pruned mixers, whose
     * width is no longer a multiple of dModel.
     */
    public Builder dInner(int v) {
      if (v < 1) {
        throw new IllegalArgumentException("MambaConfig: dInner must be >= 1, got " + v);
      }
      dInner = v;
      return this;
    }

    public Builder chunk(int v) {
      chunk = v;
      return this;
    }

    public MambaConfig build() {
      int r = dtRank > 0 ? dtRank : (dModel + 15) / 16;
      if (dtRank == 0 || dtRank < -1) {
        throw new IllegalArgumentException("MambaConfig: dtRank must be >= 1, got " + dtRank);
      }
      if ((long) dModel * expand > Integer.MAX_VALUE / 2) {
        throw new IllegalArgumentException("MambaConfig: dInner = dModel * expand = " + (long) dModel * expand + " is too large");
      }
      int e = dInner > 0 ? dInner : expand * dModel;
      return new MambaConfig(dModel, dState, dConv, expand, r, dtMin, dtMax, dtFloor, chunk, e);
    }
  }
}
