"""Writes tests/fixtures/job/bad/: one bad job per case (NAME.yaml), the exact message vkft must
give for it (NAME.txt) and, for override cases, the --set arguments (NAME.set, one a line).

Positions in the messages are computed here from the text (at()), independently of the C
parser; the three libyaml syntax-error texts were checked by hand. Run from anywhere:
    python3 tools/gen_job_bad_fixtures.py
"""
import os

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'job',
                 'bad')
MODEL = 'model: {path: ../good/model}\n'
METHOD = 'method: {kind: lora, r: 16, alpha: 32}\n'
DATA = 'data:\n  train:\n    - {path: ../good/data/train.jsonl, format: text}\n'
TRAIN = 'train: {steps: 10, lr: 2.0e-4}\n'
BASE = MODEL + METHOD + DATA + TRAIN
TRAIN_JSONL = '../good/data/train.jsonl'
cases = {}


def at(name, text, needle, nth=0):
    """'NAME.yaml:line:col' of the nth occurrence of needle in text."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count('\n', 0, i) + 1
    col = i - (text.rfind('\n', 0, i) + 1) + 1
    return f'{name}.yaml:{line}:{col}'


def add(name, text, needle, msg, sets=None, nth=0):
    """A case; needle None: msg is the whole message, else it follows the needle's position."""
    cases[name] = (text, msg if needle is None else f'{at(name, text, needle, nth)}: {msg}', sets)


# keys
t = MODEL + METHOD + DATA + 'train: {steps: 10, lrr: 2.0e-4}\n'
add('unknown_key', t, 'lrr', "train.lrr: unknown key (did you mean 'train.lr'?)")
t = MODEL + METHOD + DATA + 'trian: {steps: 10, lr: 2.0e-4}\n'
add('unknown_section', t, 'trian', "trian: unknown key (did you mean 'train'?)")
t = BASE + 'lr: 1.0e-4\n'
add('misplaced_key', t, 'lr: 1.0', "lr: unknown key (did you mean 'train.lr'?)")
t = MODEL + 'method: {kind: lora, r: 16, placement: houlsby}\n' + DATA + TRAIN
add('key_of_other_kind', t, 'placement',
    "method.placement: not a key of method kind 'lora' (it belongs to adapter)")
t = MODEL + 'method: {kind: full, r: 8}\n' + DATA + TRAIN
add('lora_key_in_full', t, 'r: 8',
    "method.r: not a key of method kind 'full' (it belongs to lora, qlora)")
t = MODEL + 'method: {kind: lora, use_dora: true}\n' + DATA + TRAIN
add('use_dora', t, 'use_dora', 'method.use_dora: DoRA (weight-decomposed LoRA) is not supported.')
t = MODEL + METHOD + DATA + 'train:\n  steps: 10\n  lr: 2.0e-4\n  steps: 20\n'
add('duplicate_key', t, 'steps',
    f"train.steps: duplicate key (first at {at('x', t, 'steps').split(':', 1)[1]})", nth=1)
t = MODEL + METHOD + 'data:\n  train:\n    - {path: ../good/data/train.jsonl}\n  [a]: 1\n' + TRAIN
add('key_not_a_name', t, '[a]', 'data: a key must be a name, not a list')

# types and ranges
t = MODEL + METHOD + DATA + 'train: {steps: 10, batch: four}\n'
add('int_wrong_type', t, 'four', "train.batch: expected an integer >= 1, got 'four'")
t = MODEL + METHOD + DATA + '  shuffle: yes\n' + TRAIN
add('bool_wrong_type', t, 'yes', "data.shuffle: expected true or false, got 'yes'")
t = MODEL + METHOD + DATA + 'train: {steps: 10, batch: 0}\n'
add('int_out_of_range', t, '0}', 'train.batch: expected an integer >= 1, got 0')
t = MODEL + 'method: {kind: lora, dropout: 1.0}\n' + DATA + TRAIN
add('float_out_of_range', t, '1.0', 'method.dropout: expected a number in [0, 1), got 1.0')
t = MODEL + METHOD + DATA + 'train: {steps: 10, lr: -1e-4}\n'
add('negative_lr', t, '-1e-4', 'train.lr: expected a number > 0, got -1e-4')
t = MODEL + METHOD + DATA + 'train: {steps: 10, lr: "2e-4"}\n'
add('quoted_number', t, '"2e-4', "train.lr: expected a number > 0, got '2e-4'")
t = MODEL + METHOD + DATA + 'train: {steps: 1e30}\n'
add('int_too_large', t, '1e30', 'train.steps: expected an integer >= 1, got 1e30 (too large)')
t = MODEL + METHOD + DATA + 'train: {steps: 10, schedule: {kind: cosin}}\n'
add('bad_enum', t, 'cosin', "train.schedule.kind: expected one of constant, linear, cosine, "
    "got 'cosin' (did you mean 'cosine'?)")
t = MODEL + 'method: {kind: lorra}\n' + DATA + TRAIN
add('bad_method_kind', t, 'lorra', 'method.kind: expected one of full, lora, qlora, adapter, '
    "prefix, prompt, ia3, bitfit, got 'lorra' (did you mean 'lora'?)")
t = MODEL + 'method: {kind: lora, targets: []}\n' + DATA + TRAIN
add('empty_targets', t, '[]', 'method.targets: expected at least one name, got an empty list')
t = MODEL + METHOD + DATA + 'train: {steps: 10, optimizer: {betas: [0.9]}}\n'
add('betas_count', t, '[0.9]',
    'train.optimizer.betas: expected a list of 2 numbers, got 1 item')
t = MODEL + METHOD + DATA + 'train: {steps: 10, optimizer: {betas: [0.9, 1.5]}}\n'
add('betas_range', t, '1.5', 'train.optimizer.betas[1]: expected a number in [0, 1), got 1.5')
t = BASE + 'device: gpu\n'
add('bad_device', t, 'gpu',
    "device: expected a device (auto, cpu, vulkan or vulkan:N), got 'gpu'")
t = MODEL + METHOD + DATA + 'train: 10\n'
add('section_not_mapping', t, '10', 'train: expected a mapping, got 10')
t = MODEL + METHOD + 'data:\n  train: ../good/data/train.jsonl\n' + TRAIN
add('datasets_scalar', t, TRAIN_JSONL, 'data.train: expected a list of datasets '
    f"({{path: ..., format: ...}}), got '{TRAIN_JSONL}'")
t = MODEL + METHOD + 'data:\n  train: [../good/data/train.jsonl]\n' + TRAIN
add('dataset_not_mapping', t, TRAIN_JSONL, 'data.train[0]: expected a mapping '
    f"({{path: ..., format: ...}}), got '{TRAIN_JSONL}'")
t = '- model\n- method\n'
add('root_is_list', t, None, 'root_is_list.yaml:1:1: expected a mapping of sections '
    '(model, device, method, data, train, output), got a list')

# required keys
t = METHOD + DATA + TRAIN
add('missing_model', t, None, 'missing_model.yaml: model.path: missing required key')
t = 'model: {}\n' + METHOD + DATA + TRAIN
add('missing_model_path', t, 'model', 'model.path: missing required key')
t = MODEL + 'method: {r: 16}\n' + DATA + TRAIN
add('missing_kind', t, 'method', 'method.kind: missing required key')
t = MODEL + METHOD + 'data:\n  train:\n    - {format: text}\n' + TRAIN
add('missing_item_path', t, '{format', 'data.train[0].path: missing required key')

# rules across keys
t = MODEL + METHOD + DATA + 'train: {steps: 10, epochs: 2}\n'
add('steps_and_epochs', t, 'epochs',
    'train.epochs: set either train.steps or train.epochs, not both')
t = MODEL + METHOD + DATA + 'train: {lr: 2.0e-4}\n'
add('no_steps', t, 'train: {', 'train.steps: missing required key (or set train.epochs)')
t = MODEL + METHOD + DATA + 'train: {steps: 10, schedule: {warmup: 20}}\n'
add('warmup_too_long', t, 'warmup',
    'train.schedule.warmup: 20 is more than train.steps (10)')
t = MODEL + METHOD + DATA + 'train:\n  steps: 10\n  eval_every: 5\n'
add('eval_every_without_eval', t, 'eval_every',
    'train.eval_every: needs data.eval (no eval dataset is set)')
t = (MODEL + METHOD + 'data:\n  train:\n    - {path: ../good/data/train.jsonl, weight: 2}\n'
     '    - {path: ../good/data/qa.jsonl}\n' + TRAIN)
add('mixed_weights', t, 'train:', 'data.train[1].weight: missing (give every dataset a weight '
    'or none; data.train[0] has one)')
t = MODEL + 'method: {kind: lora, targets: [all-linear, q_proj]}\n' + DATA + TRAIN
add('all_linear_mixed', t, 'targets',
    'method.targets: all-linear cannot be combined with module names')
t = (MODEL + 'method:\n  kind: ia3\n  targets: [k_proj, v_proj]\n  feedforward: [down_proj]\n'
     + DATA + TRAIN)
add('feedforward_not_target', t, 'feedforward',
    "method.feedforward: 'down_proj' is not in method.targets")

# YAML itself
add('empty', '# nothing here\n', None, 'empty.yaml: the job is empty')
t = BASE + '---\n' + BASE
add('two_documents', t, 'model', 'a second YAML document; a job is one document',
    nth=t[:t.index('---')].count('model'))
t = MODEL + 'method: {kind: lora, r: 16\n' + DATA + TRAIN
add('syntax_error', t, None, "syntax_error.yaml:3:5: YAML syntax: did not find expected ',' or "
    "'}' (while parsing a flow mapping at 2:9)")
t = MODEL + METHOD + DATA + 'train:\n  steps: 10\n   lr: 2.0e-4\n'
add('bad_indent', t, None,
    'bad_indent.yaml:8:6: YAML syntax: mapping values are not allowed in this context')
# "billion laughs": 10^9 values after alias expansion
lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
for i in range(1, 9):
    lines.append(f'a{i}: &a{i} [' + ', '.join([f'*a{i - 1}'] * 10) + ']')
add('alias_bomb', '\n'.join(lines) + '\n', None,
    'alias_bomb.yaml: more than 100000 values (after expanding aliases)')

# paths (vkft_job_check_paths)
t = 'model: {path: ../good/nomodel}\n' + METHOD + DATA + TRAIN
add('model_missing', t, '../good/nomodel',
    "model.path: folder '../good/nomodel': No such file or directory")
t = 'model: {path: ../good/model/config.json}\n' + METHOD + DATA + TRAIN
add('model_not_folder', t, '../good/model/config.json',
    "model.path: '../good/model/config.json' is not a folder")
t = (MODEL + METHOD + 'data:\n  train:\n    - {path: ../good/data/train.jsonl}\n'
     '    - {path: ../good/data/nope.jsonl}\n' + TRAIN)
add('data_missing', t, '../good/data/nope',
    "data.train[1].path: file '../good/data/nope.jsonl': No such file or directory")
t = MODEL + METHOD + DATA + '  eval: {path: ../good/data}\n' + TRAIN
add('eval_is_folder', t, '../good/data}',
    "data.eval.path: '../good/data' is not a regular file")
t = MODEL + 'method: {kind: lora, init: ../good/noadapter}\n' + DATA + TRAIN
add('init_missing', t, '../good/noadapter',
    "method.init: folder '../good/noadapter': No such file or directory")

# overrides
add('set_unknown_key', BASE, None,
    "--set train.lrr=1: train.lrr: unknown key (did you mean 'train.lr'?)", ['train.lrr=1'])
add('set_bad_value', BASE, None,
    '--set train.batch=0: train.batch: expected an integer >= 1, got 0', ['train.batch=0'])
add('set_no_equals', BASE, None, '--set train.lr: expected key.path=value', ['train.lr'])
add('set_bad_path', BASE, None, '--set train..lr=1: expected key.path=value '
    '(e.g. train.lr=1e-4, data.train[0].weight=2)', ['train..lr=1'])
add('set_index_out_of_range', BASE, None,
    '--set data.train[3].weight=2: data.train has 1 item', ['data.train[3].weight=2'])
add('set_kind_conflict', BASE, 'r: 16',
    "method.r: not a key of method kind 'adapter' (it belongs to lora, qlora)",
    ['method.kind=adapter'])
add('set_model_missing', BASE, None, '--set model.path=/nonexistent/model: model.path: '
    "folder '/nonexistent/model': No such file or directory", ['model.path=/nonexistent/model'])
add('set_bad_yaml', BASE, None, "--set method.targets=[q_proj: YAML syntax: did not find "
    "expected ',' or ']' (while parsing a flow sequence)", ['method.targets=[q_proj'])

os.makedirs(D, exist_ok=True)
for name, (text, msg, sets) in cases.items():
    with open(os.path.join(D, name + '.yaml'), 'w') as f:
        f.write(text)
    with open(os.path.join(D, name + '.txt'), 'w') as f:
        f.write(msg + '\n')
    if sets:
        with open(os.path.join(D, name + '.set'), 'w') as f:
            f.write('\n'.join(sets) + '\n')
print(f'{len(cases)} cases in {D}')
