"""Ordered latents: one training whose first k latents are a k-dimensional code for every k.

Config group ``ordered``, one module per option (like the regularizers):

- ``none`` (`aelab.ordered.base.Ordering`): training decodes the whole code;
- ``nested`` (`aelab.ordered.nested.NestedDropout`): each training sample keeps its first b
  latents, b drawn at random, and zeroes the rest (Rippel, Gelbart & Adams, 2014);
- ``matryoshka`` (`aelab.ordered.matryoshka.Matryoshka`): the loss sums the error of every
  declared prefix, all decoded in one batch (Kusupati et al., 2022).

Every option reports the error of the first k latents for each k of ``ordered.prefix_sizes``
(`aelab.callbacks.prefix_metrics`).
"""
