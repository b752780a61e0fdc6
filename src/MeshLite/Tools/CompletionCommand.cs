using System.CommandLine;

namespace MeshLite.Tools;

/// <summary>
/// <c>meshlite completion bash|zsh</c>: a script that completes MeshLite's commands and options in the shell, by
/// asking MeshLite itself through System.CommandLine's <c>[suggest]</c> directive (so completion always matches the binary).
/// </summary>
internal static class CompletionCommand
{
    public static Command Create(TextWriter output)
    {
        var shell = new Argument<string>("shell") { Description = "bash or zsh." };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script: source <(meshlite completion bash)") { shell };
        command.SetAction(result =>
        {
            output.Write(result.GetRequiredValue(shell) == "zsh" ? Zsh : Bash);
            return 0;
        });
        return command;
    }

    private const string Bash = """
        # meshlite completion for bash: source <(meshlite completion bash)
        _meshlite_complete() {
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
        }
        complete -o default -F _meshlite_complete meshlite

        """;

    private const string Zsh = """
        # meshlite completion for zsh: source <(meshlite completion zsh)
        _meshlite_complete() {
            local -a candidates
            candidates=("${(@f)$(${words[1]} "[suggest:${#BUFFER}]" "$BUFFER" 2>/dev/null)}")
            compadd -a candidates
        }
        compdef _meshlite_complete meshlite

        """;
}
