; Inno Setup script for Hearth (per-user install, no admin rights needed).
; Prerequisites: `make dist` (or `pyinstaller build.spec`) on Windows has produced dist\Hearth\.
; One command:   iscc installers\windows\hearth.iss      -> dist\Hearth-Setup-<version>.exe
#define AppName "Hearth"
#define AppVersion GetEnv("HEARTH_VERSION") != "" ? GetEnv("HEARTH_VERSION") : "0.1.0"

[Setup]
AppId={{6B1E7C3A-7A51-4C55-9C2B-4E0A7F7D1E11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Hearth
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=Hearth-Setup-{#AppVersion}
SetupIconFile=..\..\resources\icons\hearth.ico
UninstallDisplayIcon={app}\hearth-gui.exe
Compression=lzma2/ultra64
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
DisableProgramGroupPage=yes

[Tasks]
Name: "desktopicon"; Description: "Create a &desktop shortcut"; GroupDescription: "Shortcuts:"

[Files]
Source: "..\..\dist\Hearth\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\hearth-gui.exe"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\hearth-gui.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\hearth-gui.exe"; Description: "Start Hearth"; Flags: nowait postinstall skipifsilent

[Code]
{ The uninstaller keeps models, conversations and documents unless the user asks to remove them. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    DataDir := ExpandConstant('{localappdata}\Hearth');
    if DirExists(DataDir) then
      if MsgBox('Also delete your Hearth data (models, conversations, documents, images) in ' + DataDir + '?',
                mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
  end;
end;
