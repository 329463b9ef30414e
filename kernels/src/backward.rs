//! `Q4Backend` on `Autodiff<B>`: the 4-bit weight and its statistics are constants; `q4_matmul`
//! records a backward step that sends `dy · W` (computed by the inner backend's kernel) to `x`.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, unary},
};
use burn::backend::{
    AutodiffBackend, Backend, FloatDType,
    tensor::{FloatTensor, IntTensor},
};

use crate::{NestedLayout, Q4Backend, Q4Layout};

impl<B: Backend + Q4Backend, C: CheckpointStrategy> Q4Backend for Autodiff<B, C> {
    fn q4_dequantize(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let out = B::q4_dequantize(
            packed,
            code.into_primitive(),
            absmax.into_primitive(),
            layout,
        );
        Self::from_inner(out)
    }

    fn q4_dequantize_to(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
        dtype: FloatDType,
    ) -> FloatTensor<Self> {
        let out = B::q4_dequantize_to(
            packed,
            code.into_primitive(),
            absmax.into_primitive(),
            layout,
            dtype,
        );
        Self::from_inner(out)
    }

    fn q4_dequantize_absmax(
        codes: IntTensor<Self>,
        absmax2: FloatTensor<Self>,
        code2: FloatTensor<Self>,
        nested: NestedLayout,
    ) -> FloatTensor<Self> {
        let out = B::q4_dequantize_absmax(
            codes,
            absmax2.into_primitive(),
            code2.into_primitive(),
            nested,
        );
        Self::from_inner(out)
    }

    fn q4_matmul(
        x: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Q4MatmulBackward;

        impl<B: Backend + Q4Backend> Backward<B, 1> for Q4MatmulBackward {
            type State = (IntTensor<B>, FloatTensor<B>, FloatTensor<B>, Q4Layout);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _: &mut Checkpointer,
            ) {
                let (packed, code, absmax, layout) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |dy| {
                    B::q4_matmul_input_grad(dy, packed, code, absmax, layout)
                });
            }
        }

        let code = code.into_primitive();
        let absmax = absmax.into_primitive();
        let (x, guard) = x.into_parts();
        match Q4MatmulBackward
            .prepare::<C>([guard])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::q4_matmul(x, packed.clone(), code.clone(), absmax.clone(), layout);
                prep.finish((packed, code, absmax, layout), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::q4_matmul(x, packed, code, absmax, layout)),
        }
    }

    fn q4_matmul_input_grad(
        dy: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let out = B::q4_matmul_input_grad(
            dy.into_primitive(),
            packed,
            code.into_primitive(),
            absmax.into_primitive(),
            layout,
        );
        Self::from_inner(out)
    }
}
