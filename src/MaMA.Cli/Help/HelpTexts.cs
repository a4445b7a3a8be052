namespace MaMA.Cli.Help;

/// <summary>
/// The help text of every command and sub-action, keyed by command path ("demo", "bench ops",
/// "golden verify"): a usage line, what the command does and writes, and every option with its
/// default, as the command in Commands/ reads it. A test checks that each option a command accepts
/// is named here. The commands' usage errors quote <see cref="Usage"/>, so they say the same.
/// </summary>
internal static class HelpTexts
{
    private const string Device =
        "  --device D          auto|cuda|cuda:K|opencl|cpu|ilgpu-cpu (default auto: CUDA, then an OpenCL GPU, then the fast CPU backend;\n" +
        "                      cuda:K is the K-th CUDA card; `mama devices` lists what this machine offers)";

    /// <summary>
    /// The usage of a command path on one line, "usage: mama PATH ...": the first line of its help
    /// joined with the indented lines that continue it (those starting with '[' or '(' once trimmed).
    /// </summary>
    public static string Usage(string path)
    {
        string[] lines = All[path].Split('\n');
        IEnumerable<string> continued = lines.Skip(1).TakeWhile(l => l.StartsWith(' ') && l.TrimStart() is ['[' or '(', ..]).Select(l => l.Trim());
        return string.Join(" ", continued.Prepend(lines[0].TrimEnd()));
    }

    public static IReadOnlyDictionary<string, string> All { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["demo"] =
            "usage: mama demo [--out DIR] [--device D] [--seed N] [--studies N] [--steps N]\n" +
            "The main job on built-in synthetic phantoms: writes a synthetic dataset, runs MaMA pre-training with every\n" +
            "loss term, zero-shot density and BI-RADS and linear probes, then DIR/report.json, the run folder and plots.\n" +
            "  --out DIR           output folder (default runs/demo)\n" +
            Device + "\n" +
            "  --seed N            random seed, >= 0 (default 0)\n" +
            "  --studies N         synthetic studies (four 2D images each), at least 8 (default 800); a split left\n" +
            "                      without density labels by few studies is reported before pre-training\n" +
            "  --steps N           pre-training steps, at least 2 (default 3000); the late-loss step and warm-up keep\n" +
            "                      their share of the run\n" +
            "Details: README.md, \"Start here\"; docs/training.md.",

        ["devices"] =
            "usage: mama devices\n" +
            "Lists the devices --device can name on this machine and what `auto` picks, the OpenCL devices ILGPU cannot drive\n" +
            "(\"opencl, not usable\", with the reason), and on a CUDA machine the cuBLAS library plain GEMMs use\n" +
            "(MAMA_CUBLAS=PATH picks one, MAMA_CUBLAS=off the generated kernels). No options.\n" +
            "Details: README.md (--device); docs/architecture.md; docs/gpu-kernels.md (OpenCL).",

        ["prepare"] =
            "usage: mama prepare --in DIR --out DIR [--size 1024] [--workers N] [--no-pad] [--max-megapixels 100]\n" +
            "Converts every DICOM, PNG and JPEG under --in (recursively) to a preprocessed 8-bit grey PNG at the same\n" +
            "relative path under --out (8-bit scaling, MONOCHROME1 inverted, long side to SIZE, centred zero padding).\n" +
            "Resumes by skipping complete outputs; unreadable inputs are reported, counted and skipped.\n" +
            "  --in DIR            input folder (required)\n" +
            "  --out DIR           output folder (required, different from --in)\n" +
            "  --size N            long side in pixels, 16..16384 (default 1024)\n" +
            "  --workers N         parallel workers, 1..256 (default: processor count, at most 8)\n" +
            "  --no-pad            keep the aspect ratio instead of padding to a square\n" +
            "  --max-megapixels N  refuse larger images, at least 1 (default 100)\n" +
            "Details: docs/images.md.",

        ["bench"] =
            "usage: mama bench ops|model|train|load [options]\n" +
            "  mama bench ops      time the four MaMA kernel families at the paper's shapes\n" +
            "  mama bench model    time the paper's encoders (DINOv2 ViT-B/14, a BioMedLM block with LoRA)\n" +
            "  mama bench train    time one MaMA pre-training step (tiny and paper configs)\n" +
            "  mama bench load     time loading a model folder, in parts\n" +
            "`mama bench ACTION --help` lists the options of each. Details: docs/benchmarks.md.",

        ["bench ops"] =
            "usage: mama bench ops [--device D] [--quick] [--repeat N] [--json FILE] [--only TEXT] [--vs torch [--threads N]]\n" +
            "Times the four MaMA kernel families (attention, LoRA linear, SLA, CLIP and NT-Xent losses) at the paper's\n" +
            "shapes, forward and forward+backward, with FLOPs and TFLOP/s; prints a table and optionally writes JSON.\n" +
            Device + "\n" +
            "  --quick             tiny shapes instead of the paper's (seconds; tests)\n" +
            "  --repeat N          timed runs per case, median reported, at least 1 (default 5)\n" +
            "  --json FILE         also write the results as JSON (its folder must exist)\n" +
            "  --only TEXT         only the cases whose name contains TEXT\n" +
            "  --vs torch          also time TorchSharp (libtorch) on this CPU and print the ratio (builds with TorchSharp)\n" +
            "  --threads N         libtorch CPU threads, needs --vs torch (default: processor count)\n" +
            "Details: docs/benchmarks.md.",

        ["bench model"] =
            "usage: mama bench model [--device D] [--quick] [--repeat N] [--image-batch N] [--bf16] [--model vit|text] [--json FILE] [--vs torch [--threads N]]\n" +
            "Forward and training-step time of the paper's encoders on random weights: the DINOv2 ViT-B/14-reg4 at 518x518\n" +
            "and one BioMedLM block with LoRA at 144 tokens, batch 4; peak engine and process memory. Prints a table.\n" +
            Device + "\n" +
            "  --quick             tiny shapes (tests)\n" +
            "  --repeat N          timed runs after one warm-up, median reported, at least 1 (default 3)\n" +
            "  --image-batch N     ViT batch size, at least 1 (default 1; 36 is the paper's per-GPU batch)\n" +
            "  --bf16              run both models under bf16 autocast (default fp32)\n" +
            "  --model vit|text    time only the ViT or only the BioMedLM block (default both, the ViT first)\n" +
            "  --json FILE         also write the results as JSON (its folder must exist)\n" +
            "  --vs torch          also time the TorchSharp reference modules on this CPU (builds with TorchSharp)\n" +
            "  --threads N         libtorch CPU threads, needs --vs torch (default: processor count)\n" +
            "Details: docs/benchmarks.md.",

        ["bench load"] =
            "usage: mama bench load --model DIR [--make tiny|paper] [--drawn] [--device D] [--json FILE]\n" +
            "Times loading a model folder in the parts every command that loads one runs: open it and verify its\n" +
            "SHA-256, build the model without drawing random weights, the strict load, the finite check. Prints a table.\n" +
            "  --model DIR         the model folder (with --make, the new folder to write first)\n" +
            "  --make tiny|paper   first write a MaMA model drawn from seed 0 into DIR (paper: 2.7 B parameters, 10.8 GB)\n" +
            "  --drawn             also time the old way: build with the weights drawn, then the strict load over them\n" +
            Device + "\n" +
            "  --json FILE         also write the parts as JSON (its folder must exist)\n" +
            "Details: docs/benchmarks.md (\"Loading a model folder\").",

        ["bench train"] =
            "usage: mama bench train [--config tiny|paper|FILE[,...]] [--device D] [--micro-batch N] [--steps N] [--warmup N]\n" +
            "                        [--activation-checkpointing true|false] [--precision fp32|bf16] [--json FILE] [--vs torch [--threads N]]\n" +
            "Times one MaMA pre-training step (forward of every loss term, backward, AdamW) on random weights and a\n" +
            "synthetic batch, and the image-report pairs per second it gives. Prints a table.\n" +
            "  --config LIST       comma-separated tiny, paper or training config files (default tiny,paper on GPUs, tiny on CPU)\n" +
            Device + "\n" +
            "  --micro-batch N     pairs per step, at least 2 (default: tiny 8; paper 36 on GPUs, 2 on CPU; a file's own)\n" +
            "  --steps N           timed steps, median reported, at least 1 (default 3)\n" +
            "  --warmup N          untimed steps first, >= 0 (default 1)\n" +
            "  --activation-checkpointing true|false  (default: on for paper, off for tiny, a file's own)\n" +
            "  --precision fp32|bf16  (default: bf16 for paper on GPUs, fp32 otherwise, a file's own)\n" +
            "  --json FILE         also write the results as JSON (its folder must exist)\n" +
            "  --vs torch          also run the same step in TorchSharp on this CPU and print the ratio (builds with TorchSharp)\n" +
            "  --threads N         libtorch CPU threads, needs --vs torch (default: processor count)\n" +
            "Details: docs/benchmarks.md.",

        ["captions"] =
            "usage: mama captions --embed DIR --split train|valid|test --out FILE.jsonl [--mask-meta P [--mask-ratio R] --seed S --epoch N]\n" +
            "                     [--splits FILE --split-seed N] [--path-prefix OLD=NEW]\n" +
            "Reads an EMBED-shaped folder, assigns patients to splits (the split file is created once, then read back) and\n" +
            "writes the structured report of every kept image of the split as one JSON object per line; prints a summary.\n" +
            "  --embed DIR         EMBED-shaped folder with tables/ (required)\n" +
            "  --split S           train, valid or test (required)\n" +
            "  --out FILE.jsonl    output file (required; written atomically)\n" +
            "  --mask-meta P       mask meta information: each of age, race, ethnicity, image type, side and view becomes\n" +
            "                      \"unknown\" with probability P, 0..1 (default: unmasked captions)\n" +
            "  --mask-ratio R      probability, 0..1, that a caption is masked at all; needs --mask-meta (default 1)\n" +
            "  --seed S            masking seed (default 0)\n" +
            "  --epoch N           masking epoch (default 0)\n" +
            "  --splits FILE       split file (default DIR/splits.csv)\n" +
            "  --split-seed N      seed of a newly created split file (default 0)\n" +
            "  --path-prefix OLD=NEW  rewrite image paths starting with OLD\n" +
            "Details: docs/data.md.",

        ["op"] =
            "usage: mama op NAME --in IN.safetensors --out OUT.safetensors [--device D] [--backward]\n" +
            "Runs one kernel-family op on the named tensors of --in and writes its outputs to --out. With --backward the\n" +
            "input also holds grad_<output> tensors and the output gets grad_<input> for every differentiable input.\n" +
            "Bad input exits 2 naming the tensor.\n" +
            $"  NAME                the op (required): {Commands.OpCommand.Names}\n" +
            "  --in FILE           input tensors, safetensors (required)\n" +
            "  --out FILE          output tensors, safetensors (required)\n" +
            Device + "\n" +
            "  --backward          also differentiate L = sum over outputs of sum(out * grad_out)\n" +
            "Details: docs/ops.md.",

        ["synth"] =
            "usage: mama synth --out DIR [--studies N] [--seed S] [--size W|WxH] [--threads N] [--force] [--rsna]\n" +
            "Writes the built-in synthetic EMBED-shaped dataset (tables, PNG mammograms, ground truth) into DIR.\n" +
            "  --out DIR           output folder (required; must be empty unless --force)\n" +
            "  --studies N         studies, at least 1 (default 100)\n" +
            "  --seed S            random seed (default 0)\n" +
            "  --size W|WxH        image size, 64..4096 per side; W alone gives height 1.25 x W (default 256x320)\n" +
            "  --threads N         worker threads, 0 = all processors (default 0)\n" +
            "  --force             write into a non-empty folder\n" +
            "  --rsna              also write an RSNA-Mammo-shaped view in DIR/rsna (train.csv, train_images/; cancer = BI-RADS M or K)\n" +
            "Details: docs/data.md, \"Synthetic data\".",

        ["pretrain"] =
            "usage: mama pretrain --config FILE.json [--data DIR] [--out RUN] [--resume] [--device auto|cuda|cuda:K|opencl|cpu|ilgpu-cpu] [--launcher none|mpi|threads] [--ranks N] [--stop-after STEP]\n" +
            "MaMA pre-training: writes the run folder RUN (config, metrics, loss curves, checkpoints, final/ model).\n" +
            "  --config FILE.json  training config (configs/pretrain-tiny.json, configs/pretrain-paper.json); optional with --resume\n" +
            "  --data DIR          EMBED-shaped data folder (default: the config's, else synthetic data in RUN/synthetic)\n" +
            "  --out RUN           run folder (default runs/pretrain)\n" +
            "  --resume            continue from RUN's newest good checkpoint (any number of ranks)\n" +
            "  --device D          where to train (default: the config's device)\n" +
            "  --launcher L        none (one process, default); mpi: one rank per process under\n" +
            "                      `mpirun -np N mama pretrain ... --launcher mpi` (or srun); threads: N ranks as threads\n" +
            "                      of this process, rank k on CUDA card k (--device cuda) or all on the CPU (--device cpu).\n" +
            "                      batch.micro_batch is per rank when the run starts, the global micro-batch (x N) is kept\n" +
            "                      on resume (docs/distributed.md)\n" +
            "  --ranks N           number of rank threads (--launcher threads only)\n" +
            "  --stop-after STEP   end this session after step STEP with a checkpoint there (no final/); --resume continues\n" +
            "                      (time-limited jobs); the run's schedule is unchanged\n" +
            "Details: docs/training.md, docs/distributed.md.",

        ["probe"] = ClassifierHelp("probe", "Linear probing of a MaMA model's ViT (frozen) on EMBED BI-RADS or density, or RSNA-Mammo cancer"),

        ["finetune"] = ClassifierHelp("finetune", "Full fine-tuning of a MaMA model's ViT (trainable) on EMBED BI-RADS or density, or RSNA-Mammo cancer"),

        ["assemble"] =
            "usage: mama assemble --vision DIR --text DIR --out DIR [--seed N] [--dtype float32|bfloat16|float16]\n" +
            "Builds the MaMA model the published pre-training starts from: the pre-trained DINOv2 ViT and BioMedLM with fresh\n" +
            "LoRA adapters (r 8, alpha 32, dropout 0.1 on c_attn), heads and scales, and the token embedding resized for MaMA's\n" +
            "six special tokens (new rows N(0, 0.02), frozen). Writes a MaMA model folder with the text model's tokenizer,\n" +
            "for \"model\" in a pre-training config. Builds the whole model in memory (about 11 GB at the paper's size).\n" +
            "  --vision DIR        a dinov2 model folder (mama import --arch dinov2) (required)\n" +
            "  --text DIR          a plain gpt2 model folder with tokenizer/ (mama import --arch gpt2 of BioMedLM) (required)\n" +
            "  --out DIR           the MaMA model folder to write (required)\n" +
            "  --seed N            seed of the new weights (default 0)\n" +
            "  --dtype T           float32, bfloat16 or float16 for the floating tensors (default float32)\n" +
            "Details: docs/checkpoints.md.",

        ["import"] =
            "usage: mama import --from FILE_OR_DIR --arch dinov2|gpt2|mama --out DIR [--adapter PEFT_DIR] [--dtype float32|bfloat16|float16] [--config FILE]\n" +
            "Converts a PyTorch / Hugging Face / Lightning / TorchSharp checkpoint into a model folder (config.json +\n" +
            "model.safetensors), checking every key and shape and loading the result before it is renamed into place.\n" +
            "Needs a build with TorchSharp (not the -p:MamaWithTorch=false publish).\n" +
            "  --from PATH         checkpoint file or folder (required)\n" +
            "  --arch A            dinov2, gpt2 or mama (required)\n" +
            "  --out DIR           model folder to write (required)\n" +
            "  --adapter DIR       a PEFT save_pretrained (LoRA) folder to merge in\n" +
            "  --dtype T           float32, bfloat16 or float16 for the floating tensors (default: the checkpoint's)\n" +
            "  --config FILE       a config.json (Hugging Face or ours) to use instead of inferring the config from the tensors\n" +
            "Details: docs/checkpoints.md.",

        ["forward"] =
            "usage: mama forward --model DIR --in IN.safetensors --out OUT.safetensors [--device D] [--step N]\n" +
            "Runs a model folder (dinov2, gpt2 or mama) in evaluation mode on the named tensors of --in and writes the\n" +
            "named outputs whose inputs are present (features, embeddings and, with a second view, every MaMA loss term).\n" +
            "  --model DIR         model folder with config.json and model.safetensors (required; see `mama import`)\n" +
            "  --in FILE           input tensors, safetensors (required)\n" +
            "  --out FILE          output tensors, safetensors (required)\n" +
            Device + "\n" +
            "  --step N            step of a mama model's two-view training forward (loss terms), >= 0 (default: the late-loss step)\n" +
            "Details: docs/models.md, docs/evaluation.md.",

        ["metrics"] =
            "usage: mama metrics --scores FILE.csv --labels FILE.csv --out FILE.json [--logits] [--plots DIR] [--class-names A,B,...]\n" +
            "Accuracy, balanced accuracy, AUC, confusion matrix and binary metrics of one set of classifier outputs.\n" +
            "Writes X.json, X.confusion.png and X.roc.png (atomically) and prints the metrics.\n" +
            "  --scores FILE.csv   one row per sample, one column per class: probabilities (required)\n" +
            "  --labels FILE.csv   one integer class per row (required)\n" +
            "  --out FILE.json     the JSON report (required)\n" +
            "  --logits            the scores are logits (softmaxed per row)\n" +
            "  --plots DIR         folder of the PNGs (default: beside the JSON)\n" +
            "  --class-names LIST  comma-separated class names for the plots (default: the scores header, if any)\n" +
            "Details: docs/evaluation.md.",

        ["zeroshot"] =
            "usage: mama zeroshot --model DIR --data DIR --task birads|density|rsna [--split test|valid|train|all] [--balanced] [--seed N] [--split-seed N] --out DIR [--device D] [--batch N]\n" +
            "Zero-shot classification with instance prompts of an EMBED-shaped folder (birads, density) or an RSNA-Mammo\n" +
            "folder (rsna). Writes scores.csv, labels.csv, logits.csv, samples.csv, skipped.csv, metrics.json,\n" +
            "confusion.png and roc.png into --out; unreadable images are skipped and listed.\n" +
            "  --model DIR         model folder (required)\n" +
            "  --data DIR          dataset folder (required)\n" +
            "  --task T            birads, density or rsna (required)\n" +
            "  --split S           test, valid, train or all (default test)\n" +
            "  --balanced          a class-balanced subset of the split; --balanced false scores all of it\n" +
            "                      (default: on for birads and density, off for rsna, as the published evaluation)\n" +
            "  --seed N            seed of the balanced subset, >= 0 (default 0)\n" +
            "  --split-seed N      seed of the patient split: EMBED's splits.csv when it is created, RSNA's in-memory\n" +
            "                      70/10/20 split (the one mama probe --task rsna uses), >= 0 (default 0)\n" +
            "  --out DIR           output folder (required)\n" +
            Device + "\n" +
            "  --batch N           images per batch, at least 1 (default 16)\n" +
            "Details: docs/evaluation.md.",

        ["embed"] =
            "usage: mama embed --model DIR (--images DIR | --csv FILE | --data DIR [--split S]) [--texts FILE] --out FILE.safetensors\n" +
            "                  [--patches] [--sentences] [--batch N] [--device D] [--seed N]\n" +
            "Exports L2-normalised global image and/or text embeddings (optionally patch and sentence embeddings) to one\n" +
            "safetensors file, with the file list, skipped images and texts in its metadata. Unreadable images are skipped.\n" +
            "  --model DIR         model folder (required)\n" +
            "  --images DIR        a folder of DICOM, PNG or JPEG images\n" +
            "  --csv FILE          a CSV with a 'path' column\n" +
            "  --data DIR          an EMBED-shaped folder\n" +
            "  --split S           train, valid, test or all, with --data only (default: all images)\n" +
            "  --texts FILE        UTF-8 file, one text per non-empty line\n" +
            "  --out FILE          output safetensors (required)\n" +
            "  --patches           also the local patch embeddings (needs images)\n" +
            "  --sentences         also the sentence embeddings (needs --texts)\n" +
            "  --batch N           items per batch, at least 1 (default 16)\n" +
            Device + "\n" +
            "  --seed N            seed of --data's split file on first use, >= 0 (default 0)\n" +
            "Details: docs/evaluation.md.",

        ["explain"] =
            "usage: mama explain --model DIR --image FILE [--report TEXT | --report-file FILE] --out DIR [--task density|birads|rsna] [--size N] [--device D]\n" +
            "One heat-map PNG per report sentence (the local alignment heads' patch-sentence similarity over the\n" +
            "mammogram), index.json and index.csv, and the image's zero-shot scores. Without a report the task's\n" +
            "zero-shot prompts are the sentences.\n" +
            "  --model DIR         model folder (required)\n" +
            "  --image FILE        the mammogram (required)\n" +
            "  --report TEXT       report text; sentences end at '.' or ';'\n" +
            "  --report-file FILE  read the report from a file instead\n" +
            "  --out DIR           output folder (required)\n" +
            "  --task T            density, birads or rsna (default density)\n" +
            "  --size N            PNG side in pixels, 100..4000 (default 800)\n" +
            Device + "\n" +
            "Details: docs/evaluation.md.",

        ["golden"] =
            "usage: mama golden record|verify [options]\n" +
            "  mama golden record  store a model's named outputs for fixed inputs, with a manifest\n" +
            "  mama golden verify  recompute them (another engine or device) and compare, per tensor\n" +
            "`mama golden ACTION --help` lists the options of each. Exit 0 all within tolerance, 1 any failure, 2 bad usage.\n" +
            "Details: docs/evaluation.md.",

        ["golden record"] =
            "usage: mama golden record --model DIR --in INPUTS.safetensors --out GOLDEN_DIR [--device D] [--step N] [--tolerance T]\n" +
            "Stores a model folder's named outputs (those of `mama forward`) for fixed inputs in GOLDEN_DIR with a manifest.\n" +
            "  --model DIR         model folder (required)\n" +
            "  --in FILE           input tensors, safetensors (required)\n" +
            "  --out DIR           golden folder to write (required)\n" +
            Device + "\n" +
            "  --step N            step of a mama model's two-view training forward (loss terms), >= 0 (default: the late-loss step)\n" +
            "  --tolerance T       relative error allowed when verifying, >= 0 (default 1e-4)\n" +
            "Details: docs/evaluation.md.",

        ["golden verify"] =
            "usage: mama golden verify --model DIR --golden GOLDEN_DIR [--device D]\n" +
            "Recomputes the outputs stored by `mama golden record` and prints a per-tensor table. Exit 0 when all are\n" +
            "within tolerance, 1 otherwise.\n" +
            "  --model DIR         model folder (required)\n" +
            "  --golden DIR        folder written by `mama golden record` (required)\n" +
            Device + "\n" +
            "Details: docs/evaluation.md.",
    };

    private static string ClassifierHelp(string name, string what) =>
        $"usage: mama {name} --model M [--data DIR] [--task birads|density|rsna] [--fraction 0.01|0.1|1] [--out DIR] [--steps 8000] [--warmup 100]\n" +
        $"       [--lr 5e-4] [--min-lr 1e-5] [--weight-decay 1e-3] [--batch 32] [--crop-scale-min 0.08] [--seed 0] [--split-seed 0] [--workers N]\n" +
        $"       [--log-every 50] [--checkpoint-every 1000] [--keep-last 2] [--resume] [--device D]\n" +
        $"{what} (SGD, warm-up then cosine; the defaults are the paper's). Writes classifier.safetensors, train.jsonl,\n" +
        $"loss.png, metrics.json, confusion.png and roc.png into --out, checkpoints into --out/checkpoints.\n" +
        $"  --model M           tiny, paper, a MaMA model folder, or a pre-training run folder (its final/ model) (required)\n" +
        $"  --data DIR          EMBED-shaped folder (default: the run folder's data, else synthetic data in --out);\n" +
        $"                      for rsna an RSNA-Mammo folder (required: train.csv, train_images/PATIENT/IMAGE.png)\n" +
        $"  --task T            birads, density or rsna (cancer; scored on its whole test split) (default density)\n" +
        $"  --fraction F        share of the training split, in (0, 1] (default 1)\n" +
        $"  --out DIR           output folder (default runs/{name}-TASK-FRACTION)\n" +
        $"  --steps N           training steps, at least 1 (default 8000)\n" +
        $"  --warmup N          warm-up steps, 0..steps (default 100, or all of a shorter run)\n" +
        $"  --lr X              peak learning rate (default 5e-4)\n" +
        $"  --min-lr X          final learning rate of the cosine, 0..lr (default 1e-5)\n" +
        $"  --weight-decay X    weight decay, >= 0 (default 1e-3)\n" +
        $"  --batch N           images per step, at least 1 (default 32)\n" +
        $"  --crop-scale-min X  smallest training crop area, in (0, 1]; 1 trains on whole images (default 0.08)\n" +
        $"  --seed N            random seed: the head, the crops, the batch order, --fraction's draw (default 0)\n" +
        $"  --split-seed N      seed of the patient split: a new EMBED splits.csv, RSNA's 70/10/20 split (default 0)\n" +
        $"  --workers N         data loader workers, at least 1 (default: processor count)\n" +
        $"  --log-every N       a metrics line every N steps (default 50)\n" +
        $"  --checkpoint-every N  a checkpoint every N steps (default 1000)\n" +
        $"  --keep-last N       newest checkpoints kept, at least 1 (default 2)\n" +
        $"  --resume            continue from the newest good checkpoint in --out\n" +
        Device + "\n" +
        $"Details: docs/training.md.";
}
